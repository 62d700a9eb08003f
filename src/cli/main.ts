#!/usr/bin/env node
import { ioOfProcess } from './output.js';
import { run } from './run.js';

// `seq-tag train | head` closes the pipe early; that is the reader's choice, not an error: the
// printing stops, the work (training, saving, a sweep) goes on, and the exit code is unchanged.
ioOfProcess();

process.exitCode = await run(process.argv.slice(2));
// Everything is done and printed: a handle some library left open (a socket, a timer) must not keep
// the process alive. On Linux, stdout and stderr to files, pipes and terminals are written synchronously.
setTimeout(() => process.exit(), 2000).unref();
