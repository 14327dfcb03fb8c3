#!/usr/bin/env node
import { cliProgram } from './cli-program.js';

await cliProgram().parseAsync(process.argv);
