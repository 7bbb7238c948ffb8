// Installs every filter in the engine's table (each module registers itself on import).
import './descriptor.js';
import './kqueue-read.js';
import './user.js';
import './timer.js';
import './aio.js';
import './planned.js';
