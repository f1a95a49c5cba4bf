/**
 * Emits `n` messages at `rate` per second: every millisecond timer turn emits all messages due by
 * then (an overloaded process falls behind and catches up in bigger batches). `emit(seq)` is called
 * synchronously; the caller stamps wall-clock time into the message.
 */
export function runBurst(n: number, rate: number, emit: (seq: number) => void): Promise<{ emitted: number; seconds: number }> {
  const start = performance.now();
  let emitted = 0;
  return new Promise((resolve) => {
    const turn = (): void => {
      const due = Math.min(n, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
      while (emitted < due) emit(emitted++);
      if (emitted >= n) resolve({ emitted, seconds: (performance.now() - start) / 1000 });
      else setTimeout(turn, 1);
    };
    turn();
  });
}
