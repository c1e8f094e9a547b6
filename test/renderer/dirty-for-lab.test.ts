// Apply lights up for unsaved changes that would change the running lab, not for where nodes are drawn or
// for canvas notes (issue 23: a note edit lit Apply up, which then said there was nothing to apply).
import { describe, expect, it } from 'vitest';
import { addNode, moveElements, updateMachine } from '../../src/renderer/graph/edit.ts';
import { AppState } from '../../src/renderer/state.ts';

function opened(): AppState {
  const state = new AppState();
  const { model } = addNode(state.model, 'host', { x: 100, y: 100 });
  state.load(model, '/labs/x');
  return state;
}

describe('unsaved changes that Apply would make live', () => {
  it('a moved node or a canvas note: unsaved, but nothing for Apply', () => {
    const state = opened();
    const name = state.model.machines[0]!.name;
    state.edit(moveElements(state.model, { [`machine:${name}`]: { x: 300, y: 40 } }));
    expect(state.dirty).toBe(true);
    expect(state.dirtyForLab).toBe(false);
    state.edit({ ...state.model, annotations: [{ type: 'note', x: 10, y: 10, text: 'Area 0' }] });
    expect(state.dirty).toBe(true);
    expect(state.dirtyForLab).toBe(false);
  });

  it('a changed machine or a new one: Apply has work', () => {
    const state = opened();
    const name = state.model.machines[0]!.name;
    state.edit(updateMachine(state.model, name, (m) => void (m.memoryMiB = 96)));
    expect(state.dirtyForLab).toBe(true);
    const fresh = opened();
    fresh.edit(addNode(fresh.model, 'host', { x: 200, y: 100 }).model);
    expect(fresh.dirtyForLab).toBe(true);
  });
});
