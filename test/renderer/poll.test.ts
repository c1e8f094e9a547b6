// The app's status refresh (src/renderer/poll.ts): never a second call while one is unanswered.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pollAfterAnswer } from '../../src/renderer/poll.ts';

afterEach(() => vi.useRealTimers());

describe('pollAfterAnswer', () => {
  it('waits for the answer before the next call, then the interval again', async () => {
    vi.useFakeTimers();
    let calls = 0;
    let answer: (() => void) | undefined;
    const stop = pollAfterAnswer(5000, () => {
      calls++;
      return new Promise<void>((resolve) => (answer = resolve));
    });
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(1);
    // The supervisor takes 30 s to answer: no call piles up meanwhile.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(calls).toBe(1);
    answer!();
    await vi.advanceTimersByTimeAsync(4999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    stop();
    answer!();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
  });

  it('a failed call and an unwanted turn keep the rhythm', async () => {
    vi.useFakeTimers();
    let calls = 0;
    let wanted = false;
    const stop = pollAfterAnswer(1000, async () => {
      calls++;
      throw new Error('not connected');
    }, () => wanted);
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toBe(0);
    wanted = true;
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls).toBe(3);
    stop();
  });
});
