export {
  reencryptProcessor,
  rotationProcessor,
  type ProcessorDeps,
} from './rotation-processors.js';
export { runWorker } from './worker-main.js';
