// The lab panel: the lab's instructions (sanitised Markdown) and "check my work", which runs the
// visible checks against the running lab and lists what passed, what did not, and the hints.
import type { CheckReport } from '../shared/checks.ts';
import type { VnetlabService } from '../shared/service-api.ts';
import { h } from './dom.ts';
import { keepPreformattedFitted } from './fit-text.ts';
import { renderMarkdown } from './markdown.ts';
import type { AppState } from './state.ts';

export class LabPanel {
  private readonly description = h('div', { class: 'markdown', 'data-testid': 'lab-description' });
  private readonly results = h('div', { class: 'check-results', 'data-testid': 'check-results' });
  private readonly button = h('button', { 'data-testid': 'check-my-work' }, 'Check my work') as HTMLButtonElement;
  private renderedDescription: string | undefined;
  /** Wide diagrams fit the panel (refitted when the panel's width changes). */
  private readonly fitDescription = keepPreformattedFitted(this.description);

  constructor(
    root: HTMLElement,
    private readonly state: AppState,
    private readonly api: VnetlabService,
  ) {
    this.button.addEventListener('click', () => void this.check());
    root.append(this.description, this.results, h('div', { class: 'check-bar' }, this.button, h('span', { class: 'muted small check-why', 'data-testid': 'check-why' })));
  }

  /** Another lab was opened: the previous one's results must not stay on screen. */
  reset(): void {
    this.results.replaceChildren();
    this.renderedDescription = undefined;
  }

  render(): void {
    const { title, description } = this.state.model.meta;
    const md = description ?? (title ? `# ${title}` : '_This lab has no description._');
    if (md !== this.renderedDescription) {
      this.description.innerHTML = renderMarkdown(md);
      this.renderedDescription = md;
      this.fitDescription();
    }
    const hasChecks = this.state.model.checks.some((c) => !c.hidden);
    this.button.disabled = !this.state.running || !hasChecks || !this.state.folder;
    this.button.title = !hasChecks ? 'This lab has no checks.' : !this.state.running ? 'Start the lab first.' : 'Run the checks of this lab.';
    // Said beside the button too: a disabled button's tooltip is easy to miss.
    (this.button.nextElementSibling as HTMLElement).textContent = this.button.disabled && !this.checking ? ` ${!hasChecks ? 'This lab has no checks yet (add them in Properties, with nothing selected).' : !this.state.folder ? 'Save the lab first.' : 'Start the lab to check your work.'}` : '';
  }

  private checking = false;

  private async check(): Promise<void> {
    this.checking = true;
    this.button.disabled = true;
    this.results.replaceChildren(h('p', { class: 'muted' }, 'Checking…'));
    try {
      this.showReport(await this.api.runChecks(this.state.folder));
    } catch (err) {
      this.results.replaceChildren(h('p', { class: 'diag diag-error' }, (err as Error).message));
    } finally {
      this.checking = false;
      this.render();
      this.results.scrollIntoView({ block: 'nearest' });
    }
  }

  private showReport(report: CheckReport): void {
    const rows = report.results.map((r) =>
      h('li', { class: r.passed ? 'pass' : 'fail' },
        h('span', { class: 'mark' }, r.passed ? '✔' : '✘'), ` ${r.description}`,
        !r.passed && r.reason ? h('div', { class: 'reason' }, r.reason) : '',
        !r.passed && r.hint ? h('div', { class: 'hint' }, `Hint: ${r.hint}`) : ''),
    );
    this.results.replaceChildren(
      h('p', { class: 'score' }, report.error ? `Could not check: ${report.error}` : `Score: ${report.score} / ${report.maxScore}`),
      h('ul', {}, ...rows),
    );
  }
}
