# The addon: src/*.cc on Node-API through node-addon-api (C++ exceptions,
# every one of them turned into a JavaScript error: never an abort),
# linked with the library's static archive, which build.js has the
# project's Makefile build first (position-independent, release flags).
{
  'targets': [{
    'target_name': 'shmkv',
    'sources': ['src/bytes.cc', 'src/errors.cc', 'src/table.cc',
                'src/reads.cc', 'src/writes.cc', 'src/lists.cc', 'src/scan.cc'],
    'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
    'include_dirs': ['../../include'],
    # A worker terminated mid-call cannot take an exception: drop it then
    # (node-addon-api would otherwise throw out of its callback: an abort).
    'defines': ['NAPI_VERSION=8', 'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS'],
    'cflags_cc': ['-std=c++17', '-Wall', '-Wextra', '-Werror'],
    'libraries': ['<(module_root_dir)/../../build/libshmkv.a', '-pthread'],
  }],
}
