// Hand-in packs from the classroom (docs/snapshots.md): an instructor downloads any student's lab as a
// .vnlpack from the dashboard, a student their own from their home page (the app's Hand in… too).
// The student's worker packs their copy as it is now (saved on the spot as a state).
import type { ServerResponse } from 'node:http';
import type { PackFile } from '../../../shared/service-api.ts';
import { UserError } from '../../errors.ts';
import { toErrorInfo } from '../../service/errors.ts';
import type { Account } from '../accounts.ts';
import type { FrontDoor } from '../front-door.ts';
import { STUDENT_ID_RE } from '../worker.ts';

/** Sends `student`'s copy of class lab `labId` as an attachment, or a JSON error. */
export async function sendPack(door: FrontDoor, res: ServerResponse, student: Account | undefined, labId: string): Promise<void> {
  const { config, workerOf, json, log } = door;
  if (!student || !STUDENT_ID_RE.test(student.id)) return json(res, 404, { error: 'no such student' });
  if (!config.labs.some((l) => l.id === labId)) return json(res, 404, { error: 'no such lab' });
  try {
    const pack = await workerOf(student).request<PackFile>({ op: 'pack', student: student.id, lab: labId });
    const body = Buffer.from(pack.base64, 'base64');
    const who = (student.email || student.id).replace(/[^A-Za-z0-9._-]+/g, '_');
    log(`pack: ${student.email}'s ${labId} (${body.length} bytes)`);
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      'Content-Disposition': `attachment; filename="${who}-${labId}.vnlpack"`,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(body);
  } catch (err) {
    return json(res, err instanceof UserError ? 400 : 500, toErrorInfo(err));
  }
}
