/** Marks a promise deliberately not awaited; its failure is logged instead of becoming an unhandled rejection. */
export function drop(p: Promise<unknown>, onError: (err: unknown) => void = (err) => console.error(err)): void {
  p.catch(onError);
}
