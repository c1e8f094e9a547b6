// Sane limits for what a lab may ask for; documented in docs/lab-format.md. They keep a typo
// (an extra zero, a runaway generator) from exhausting a student's laptop or a grading server.

/** Machines in one lab: the compile benchmark goes to 1,000; more is almost surely a mistake. */
export const MAX_MACHINES = 1000;
/** Collision domains in one lab. */
export const MAX_DOMAINS = 4000;
/** Interfaces on one machine (eth0…eth63). */
export const MAX_INTERFACES = 64;
/** One file placed in a guest (lab file or inline content). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Everything a lab places into guests, added up (it all goes into the lab-fs image). */
export const MAX_LAB_BYTES = 512 * 1024 * 1024;
/** A lab.yaml / lab.conf larger than this is refused before parsing. */
export const MAX_LAB_FILE_BYTES = 16 * 1024 * 1024;

/** Machine names: also host names and parts of socket paths. */
export const MACHINE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** Collision domain names: Netkit and Kathará labs use capitals (A, B, …), so they are allowed. */
export const DOMAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
