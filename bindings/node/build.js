#!/usr/bin/env node
// npm's install script: builds the addon (build/Release/shmkv.node).
//
// 1. The library's static archive with the project's own Makefile
//    (../../build/libshmkv.a): the package builds from a checkout of the
//    repository, and links the library exactly as the project builds it.
// 2. node-gyp (the one npm bundles) against the headers of the Node that
//    runs this script, which Node's packages install beside it
//    (/usr/include/node for /usr/bin/node; also Debian's libnode-dev, nvm
//    and the official tarballs), so nothing is downloaded.  npm's nodedir
//    setting, when given, wins.
'use strict'
const { spawnSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')

function run (cmd, args, env = process.env) {
  console.log('shmkv build: ' + [cmd, ...args].join(' '))
  const r = spawnSync(cmd, args, { stdio: 'inherit', env })
  if (r.error) throw r.error
  if (r.status !== 0) process.exit(r.status || 1)
}

// The installed Node's headers: <prefix>/include/node for <prefix>/bin/node.
function nodeDir () {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  const prefix = path.resolve(path.dirname(fs.realpathSync(process.execPath)), '..')
  return fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? prefix : null
}

// npm tells its scripts where its node-gyp is; outside npm, look for the
// one it bundles, then for node-gyp on PATH.
function nodeGyp () {
  const bundled = path.resolve(path.dirname(fs.realpathSync(process.execPath)),
    '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')
  for (const js of [process.env.npm_config_node_gyp, bundled]) {
    if (js && fs.existsSync(js)) return [process.execPath, [js]]
  }
  return ['node-gyp', []]
}

const root = path.resolve(__dirname, '../..')
const jobs = String(Math.min(4, os.cpus().length || 1))
// A make that runs npm (make node) must not lend its jobserver to this one.
const env = { ...process.env }
for (const v of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL']) delete env[v]
run('make', ['-C', root, '-j' + jobs, 'build/libshmkv.a'], env)

const dir = nodeDir()
if (!dir) console.log('shmkv build: no Node headers beside ' + process.execPath + '; node-gyp will fetch them')
const [gyp, gypArgs] = nodeGyp()
run(gyp, [...gypArgs, 'rebuild', '-j', jobs, ...(dir ? ['--nodedir=' + dir] : [])])
