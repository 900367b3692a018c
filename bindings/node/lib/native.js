'use strict'
// The compiled addon (build.js builds it on npm install).
module.exports = require('../build/Release/shmkv.node')
