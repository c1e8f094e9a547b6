// The environment of a node process of ours that makes no TLS connection (a lab's supervisor, the warm
// pool). Node reads NODE_EXTRA_CA_CERTS when it starts, before any of our code, and parses every
// certificate the file holds: for a system bundle (~140 certificates, /etc/ssl/certs/ca-certificates.crt)
// that is ~40 ms of a core and ~60 ms of wall time, on the way to a lab's first boot — more than the rest
// of node's own start (`node -e 0`: 69 ms of CPU with it, 31 without, on the bench machine).

/** `env` without what makes node's start slow and these processes do not use. */
export function withoutTlsSetup(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = env;
  return rest;
}
