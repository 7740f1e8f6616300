// Numeric tokens as the judge reads them. Integers stay strings (exact); decimals compare within a tolerance
// without ever losing a value to float overflow ("1e400" is not Infinity here).

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export function isIntegerToken(token: string): boolean {
  return INTEGER.test(token);
}

/** A decimal number written with a decimal point or an exponent, as sign, digits and a power of ten. */
export interface DecimalToken {
  negative: boolean;
  /** Significant digits without leading zeros ("" for zero). */
  digits: string;
  /** value = digits × 10^exponent */
  exponent: number;
}

/** The token is written as a decimal (a point or an exponent), so it is compared within a tolerance. */
export function looksDecimal(token: string): boolean {
  return token.includes(".") || token.includes("e") || token.includes("E");
}

/** Parses an integer or decimal token ("12", "-0.5", "1e400", ".5", "5."); null when it is not a number. */
export function parseDecimalToken(token: string): DecimalToken | null {
  const m = DECIMAL.exec(token);
  if (!m) return null;
  const [, sign, intPart, fracPart = "", expPart] = m;
  if (intPart.length === 0 && fracPart.length === 0) return null; // ".", "e5", "+.e1"
  const exp = expPart === undefined ? 0 : Number(expPart);
  if (!Number.isSafeInteger(exp)) return null; // an exponent with hundreds of digits is not a number we judge
  const all = (intPart + fracPart).replace(/^0+/, "");
  const trimmed = all.replace(/0+$/, "");
  return {
    negative: sign === "-",
    digits: trimmed,
    exponent: exp - fracPart.length + (all.length - trimmed.length),
  };
}

/** Decimal order of magnitude: the position of the leading digit (value in [10^m, 10^(m+1))). */
function magnitude(d: DecimalToken): number {
  return d.exponent + d.digits.length - 1;
}

/** value / 10^shift as a double; finite whenever shift is near the value's magnitude. */
function scaled(d: DecimalToken, shift: number): number {
  if (d.digits === "") return 0;
  // Keep 20 significant digits: more than a double holds, and the exponent text stays short.
  const digits = d.digits.slice(0, 20);
  const exponent = d.exponent + (d.digits.length - digits.length) - shift;
  const v = Number(`${digits}e${exponent}`);
  return d.negative ? -v : v;
}

/**
 * |a − b| ≤ tol or |a − b| ≤ tol·|b| (b is the expected value), computed without overflow: values beyond
 * the double range are compared relatively after scaling both by the larger magnitude.
 */
export function decimalsClose(actual: DecimalToken, expected: DecimalToken, tolerance: number): boolean {
  const a = scaled(actual, 0);
  const b = scaled(expected, 0);
  if (Number.isFinite(a) && Number.isFinite(b)) {
    const diff = Math.abs(a - b);
    return diff <= tolerance || diff <= tolerance * Math.abs(b);
  }
  // At least one side overflows a double: only a relative match is possible, so scale both down.
  const shift = Math.max(
    actual.digits === "" ? -Infinity : magnitude(actual),
    expected.digits === "" ? -Infinity : magnitude(expected),
  );
  const as = scaled(actual, shift);
  const bs = scaled(expected, shift);
  return Math.abs(as - bs) <= tolerance * Math.abs(bs);
}
