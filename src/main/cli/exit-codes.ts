// The CLI's view of src/main/errors.ts (kept so commands import from their own folder).
export { EXIT, UserError, EnvironmentError } from '../errors.ts';
