// The server of the article the lab grew out of, for `httplab run --server-cmd`: a Node.js
// HTTP server whose upload handler reads the request and never answers. Only the server's
// timeout (`server.setTimeout`, Node's default was 2 minutes; here 500 ms) ends such a request,
// by closing its connection; until then the connection is held, and a browser's six
// connections to the host are soon all held. With "fixed", the handler answers, as it should
// ("always close your responses").
//
// usage: node node-never-respond.js PORT [ARRIVALS_LOG] [fixed]
// Each request's arrival (ms since the server started, method, path) is appended to
// ARRIVALS_LOG when given, so a test can see when each upload reached the server.
'use strict';
const http = require('http');
const fs = require('fs');

const [port, log, mode] = process.argv.slice(2);
const started = process.hrtime.bigint();

const server = http.createServer((req, res) => {
  const at = Number(process.hrtime.bigint() - started) / 1e6;
  if (log) {
    fs.appendFileSync(log, `${at.toFixed(3)} ${req.method} ${req.url}\n`);
  }
  req.resume();
  req.on('end', () => {
    if (mode === 'fixed') {
      res.end('ok');
    }
    // Otherwise: never answer. The bug.
  });
});
// Without a 'timeout' listener, a socket idle this long is destroyed: the only way a request
// to the buggy handler ends.
server.setTimeout(500);
server.listen(Number(port));
