// Exit codes of every `vnetlab` subcommand, and the errors every layer throws for problems a user can fix.
export const EXIT = {
  ok: 0,
  /** The thing checked is false: checks failed, validation found errors in a `check`. */
  false: 1,
  /** Bad input or usage: unknown flag, invalid lab file. */
  badInput: 2,
  /** Environment problem: missing kernel, package, image; permission. */
  environment: 3,
} as const;

/** Thrown for problems the user can fix; the CLI prints `message` (and `hint`) without a stack trace. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badInput,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export class EnvironmentError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.environment, hint);
    this.name = 'EnvironmentError';
  }
}
