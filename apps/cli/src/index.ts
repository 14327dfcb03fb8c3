export { cliProgram } from './cli-program.js';
