// The exam countdown (classroom only): the server says how much time is left (its clock, not this
// browser's) and the app counts down from there, clearly in the last minutes. The lab's locks are the
// server's; the page only hides the editing tools it would refuse anyway.
import type { ExamNotice } from '../shared/service-api.ts';

export class ExamClock {
  private notice: ExamNotice | undefined;
  /** performance.now() at which the time is up. */
  private deadline = 0;
  private timer: number | undefined;

  constructor(
    private readonly el: HTMLElement,
    private readonly currentLab: () => string,
    private readonly onEnded: (notice: ExamNotice) => void,
  ) {}

  update(notice: ExamNotice): void {
    const wasRunning = this.notice?.phase === 'running';
    this.notice = notice;
    this.deadline = performance.now() + notice.remainingMs;
    window.clearInterval(this.timer);
    this.timer = window.setInterval(() => this.render(), 250);
    this.render();
    if (notice.phase === 'ended' && (wasRunning || !this.endedSaid)) {
      this.endedSaid = true;
      this.onEnded(notice);
    }
  }

  private endedSaid = false;

  private render(): void {
    const n = this.notice;
    const mine = !!n && n.labRoot === this.currentLab();
    document.body.classList.toggle('exam-mode', mine);
    this.el.hidden = !mine;
    if (!n || !mine) return;
    const left = n.phase === 'ended' ? 0 : Math.max(0, this.deadline - performance.now());
    const final = left > 0 && left <= n.finalMs;
    this.el.classList.toggle('final', final);
    this.el.classList.toggle('over', left === 0);
    this.el.dataset.remainingMs = String(Math.round(left));
    if (left === 0) {
      this.el.textContent = `${n.title}: time is up — consoles are read-only`;
      window.clearInterval(this.timer);
      return;
    }
    const s = Math.ceil(left / 1000);
    const hh = Math.floor(s / 3600);
    const mm = Math.floor((s % 3600) / 60);
    const ss = s % 60;
    const clock = `${hh ? `${hh}:` : ''}${String(mm).padStart(hh ? 2 : 1, '0')}:${String(ss).padStart(2, '0')}`;
    this.el.textContent = `${n.title}: ${clock} left${final ? ' — last minutes!' : ''}`;
    this.el.title = `Ends at ${new Date(n.endsAt).toLocaleTimeString()}. Check my work: ${n.checkMyWork}.`;
  }
}
