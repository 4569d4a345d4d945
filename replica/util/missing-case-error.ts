/**
 * The default branch of an exhaustive switch over a union: `default: throw missingCaseError(x)`. Adding a member to
 * the union without a case is then a type error (x is no longer `never`); a value outside the union that arrives at
 * run time anyway (a bug, or data from a newer version) becomes an Error that names it. Isomorphic: no imports.
 */
export function missingCaseError(value: never): Error {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new Error(`unhandled case: ${shown.slice(0, 200)}`);
}
