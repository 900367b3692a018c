dnl config.m4 for the shmkv PHP extension (phpize && ./configure && make).
dnl
dnl The library links statically into shmkv.so: build/libshmkv.a of the
dnl shmkv tree (position-independent; `make lib` at the top level builds
dnl it).  --with-shmkv-src=DIR names that tree; by default it is the one
dnl this directory sits in (../..).

PHP_ARG_ENABLE([shmkv],
  [whether to enable the shmkv extension],
  [AS_HELP_STRING([--enable-shmkv], [Enable shmkv, a cache shared by every process of the host])],
  [yes])

PHP_ARG_WITH([shmkv-src],
  [for the shmkv source tree],
  [AS_HELP_STRING([--with-shmkv-src=DIR], [the shmkv tree holding include/shmkv.h and build/libshmkv.a])],
  [no], [no])

if test "$PHP_SHMKV" != "no"; then
  if test "$PHP_SHMKV_SRC" = "no" || test "$PHP_SHMKV_SRC" = "yes"; then
    PHP_SHMKV_SRC="$abs_srcdir/../.."
  fi
  PHP_SHMKV_SRC=`cd "$PHP_SHMKV_SRC" && pwd`
  AC_MSG_CHECKING([for shmkv.h and libshmkv.a in $PHP_SHMKV_SRC])
  if test -r "$PHP_SHMKV_SRC/include/shmkv.h" && test -r "$PHP_SHMKV_SRC/build/libshmkv.a"; then
    AC_MSG_RESULT([found])
  else
    AC_MSG_RESULT([not found])
    AC_MSG_ERROR([build the library first: make -C $PHP_SHMKV_SRC lib])
  fi

  PHP_ADD_INCLUDE([$PHP_SHMKV_SRC/include])
  dnl the near cache's record parser (agent_record.c includes record.c)
  PHP_ADD_INCLUDE([$PHP_SHMKV_SRC/tools/redis])
  dnl The archive goes to the linker as it is (-Wl, so libtool does not
  dnl object to a static library in a shared one), and its symbols stay
  dnl inside shmkv.so (--exclude-libs, -fvisibility=hidden): the extension
  dnl exports only get_module, what PHP loads it by.
  SHMKV_SHARED_LIBADD="-Wl,$PHP_SHMKV_SRC/build/libshmkv.a,--exclude-libs,libshmkv.a -lpthread"
  PHP_SUBST(SHMKV_SHARED_LIBADD)

  PHP_NEW_EXTENSION(shmkv,
    [module.c value.c cache.c info.c iterator.c table.c lists.c near.c agent_record.c],
    $ext_shared,,
    [-std=c11 -fvisibility=hidden -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -DZEND_ENABLE_STATIC_TSRMLS_CACHE=1])
  PHP_ADD_EXTENSION_DEP(shmkv, pcre)
  PHP_ADD_EXTENSION_DEP(shmkv, spl)
fi
