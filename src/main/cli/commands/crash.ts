// `vnetlab crash [LAB] [machines…]`: SIGKILL at once, like pulling the plug (see stop.ts).
import { stopCommand } from './stop.ts';

export default stopCommand('crash');
