// The services networking courses use, in the debian image (issue 24), on real UML: the Netkit-dialect
// lab test/fixtures/netkit-services starts squid, exim4, dovecot, openbsd-inetd (telnet), snmpd and
// OpenVPN from their init scripts in srv's startup file, with the lab's own configs in srv/etc/, and pc
// uses each of them over the lab's LAN: a page through the proxy (curl and w3m), a mail sent over SMTP
// and read back over IMAP, a telnet server's first bytes, an SNMP get, a ping through the tunnel, and
// iperf (Debian's stand-in for netperf).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianForTests } from '../support/debian.ts';
import { fixtureLab } from '../support/fixtures.ts';
import { eventually, waitUntil, testEnv, type TestEnv } from '../runtime/helpers.ts';

const debian = debianForTests();

describe.skipIf(!debian.run)(`debian image: the services of a networking course (issue 24)${debian.skipNote}`, () => {
  let t: TestEnv;
  const lab = fixtureLab('netkit-services');
  beforeAll(() => {
    t = testEnv();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const run = (machine: string, command: string) => t.cli(['exec', '-l', lab, machine, '--timeout', '30', '--', command]);
  const exec = async (machine: string, command: string) => {
    const r = await run(machine, command);
    expect(r.code, `${machine}: ${command}\n${r.stdout}${r.stderr}`).toBe(0);
    return r.stdout;
  };

  it('squid, exim4 + dovecot, telnet through inetd, snmpd and OpenVPN start from their init scripts and answer on their ports', async () => {
    const start = await t.cli(['start', lab]);
    expect(start.code, start.stdout + start.stderr).toBe(0);
    expect(start.stderr).not.toMatch(/startup script of srv exited/);
    const log = await exec('srv', 'cat /var/log/vnetlab-startup.log');
    for (const line of ['Starting Squid HTTP Proxy: squid.', 'Starting MTA: exim4.', 'Starting IMAP/POP3 mail server: dovecot.', 'Starting internet superserver: inetd.', 'Starting SNMP Services: snmpd', 'Starting virtual private network daemon: lab.']) {
      expect(log).toContain(line);
    }
    expect(log).toContain('=== startup exited 0 ===');
    // Listening where the lab's configs say: on the LAN, not only on loopback.
    const tcp = await exec('srv', 'ss -Hltn');
    for (const port of [80, 3128, 25, 143, 110, 23]) expect(tcp, `tcp ${port}`).toMatch(new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${port}\\s`));
    const udp = await exec('srv', 'ss -Hlun');
    for (const port of [161, 1194]) expect(udp, `udp ${port}`).toMatch(new RegExp(`(0\\.0\\.0\\.0|\\*|\\[::\\]):${port}\\s`));

    // squid: a page of srv's apache, fetched by pc through the proxy (curl, then the text browser).
    expect(await exec('pc', 'curl -s -i -x http://srv:3128 http://srv/ | tr -d "\\r" | grep -E "^(HTTP|Via)|course server"')).toMatch(/^HTTP\/1\.1 200 OK\nVia: 1\.1 srv \(squid\/5\.\d+\)\n.*<h1>vnetlab course server<\/h1>/);
    expect(await exec('pc', 'http_proxy=http://srv:3128/ w3m -dump http://srv/')).toMatch(/^vnetlab course server\n\s*$/);
    expect(await exec('srv', 'grep -c "TCP_MISS/200 .* http://srv/" /var/log/squid/access.log')).toMatch(/^[1-9]\d*\n$/);

    // exim4 takes a mail for alice from the LAN (SMTP), dovecot hands it back (IMAP, plain login).
    await exec('pc', 'printf "From: root@pc.lab.test\\r\\nTo: alice@srv.lab.test\\r\\nSubject: vnetlab mail test\\r\\n\\r\\nHello Alice.\\r\\n" > /tmp/mail.txt');
    await exec('pc', 'curl -s --mail-from root@pc.lab.test --mail-rcpt alice@srv.lab.test -T /tmp/mail.txt smtp://srv/pc.lab.test');
    const mail = await eventually(() => run('pc', 'curl -s "imap://srv/INBOX;UID=1" -u alice:wonderland'), (r) => r.stdout.includes('Hello Alice.'), 20_000);
    expect(mail.stdout).toContain('Subject: vnetlab mail test');
    expect(mail.stdout).toMatch(/^Received: from \[10\.0\.0\.2\] \(helo=pc\.lab\.test\)\s+by srv\.lab\.test with esmtp \(Exim 4\.\d+\)/m);
    // While its auth process is busy (a loaded host), dovecot greets with "Waiting for authentication
    // process to respond.." instead: the greeting is judged once dovecot says it is ready.
    const greeting = await eventually(() => run('pc', 'printf "a1 LOGIN alice wonderland\\r\\na2 LOGOUT\\r\\n" | nc -w 5 srv 143 | head -1'), (r) => !r.stdout.includes('Waiting for authentication'), 30_000);
    expect(greeting.stdout).toMatch(/^\* OK \[CAPABILITY .*\] Dovecot \(Debian\) ready\./);

    // telnet through inetd: the server opens with telnet option negotiation (IAC = 0xff).
    expect(await exec('pc', 'nc -w 3 srv 23 </dev/null | head -c 3 | od -An -tx1 | tr -d " \\n"')).toMatch(/^ff(fd|fb)/);

    // SNMP: srv's sysName and sysLocation, from the lab's snmpd.conf (numeric OIDs: Debian ships no MIBs).
    expect(await exec('pc', 'snmpget -v2c -c public srv 1.3.6.1.2.1.1.5.0 1.3.6.1.2.1.1.6.0')).toBe('iso.3.6.1.2.1.1.5.0 = STRING: "srv"\niso.3.6.1.2.1.1.6.0 = STRING: "vnetlab test lab"\n');
    expect((await run('pc', 'snmpget -v2c -c private -t 1 -r 0 srv 1.3.6.1.2.1.1.5.0')).code).not.toBe(0);

    // OpenVPN: a point-to-point tunnel with the static key from shared/, pinged through.
    await waitUntil(() => run('pc', 'ping -c 1 -W 1 10.8.0.1'), (r) => r.code === 0, 30_000);
    expect(await exec('pc', 'ip -o addr show tun0')).toMatch(/ inet 10\.8\.0\.2 peer 10\.8\.0\.1\/32 /);

    // iperf in netperf's place.
    await exec('srv', 'iperf -s -D >/dev/null 2>&1');
    const iperf = await eventually(() => run('pc', 'iperf -c srv -t 1 -f m'), (r) => /Mbits\/sec/.test(r.stdout), 15_000);
    expect(iperf.stdout).toMatch(/\d+(\.\d+)? Mbits\/sec/);

    expect((await t.cli(['stop', lab])).code).toBe(0);
  }, 300_000);
});
