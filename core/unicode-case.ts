/**
 * Python's `str.casefold`, `str.lower` and `str.strip`, which Synapse's `canonicalise_email`
 * applies to email addresses: hashes of addresses read from Synapse must equal hashes of the
 * same addresses normalised here. JavaScript has no case folding, and its `toLowerCase` follows
 * the ICU of the running Node (Unicode 17 on Node 20.20) rather than a fixed version.
 *
 * The data is Unicode 14.0 (@unicode/unicode-14.0.0), Python 3.11's version. Case folding and
 * lower-casing did not change up to 15.1, so this is also what Python 3.12 and 3.13 do; Unicode
 * 16 (Python 3.14) added capital letters (Garay, some Latin) that Unicode 14 leaves unchanged.
 * test/fixtures/casefold holds Python's answers for every code point.
 */
import foldCommon from '@unicode/unicode-14.0.0/Case_Folding/C/code-points.mjs';
import foldFull from '@unicode/unicode-14.0.0/Case_Folding/F/code-points.mjs';
import lowerSimple from '@unicode/unicode-14.0.0/Simple_Case_Mapping/Lowercase/code-points.mjs';
import lowerSpecial from '@unicode/unicode-14.0.0/Special_Casing/Lowercase/code-points.mjs';
import casedCodePoints from '@unicode/unicode-14.0.0/Binary_Property/Cased/code-points.mjs';
import caseIgnorableCodePoints from '@unicode/unicode-14.0.0/Binary_Property/Case_Ignorable/code-points.mjs';
import bidiWhiteSpace from '@unicode/unicode-14.0.0/Bidi_Class/White_Space/code-points.mjs';
import bidiParagraphSeparator from '@unicode/unicode-14.0.0/Bidi_Class/Paragraph_Separator/code-points.mjs';
import bidiSegmentSeparator from '@unicode/unicode-14.0.0/Bidi_Class/Segment_Separator/code-points.mjs';
import spaceSeparator from '@unicode/unicode-14.0.0/General_Category/Space_Separator/code-points.mjs';

const CAPITAL_SIGMA = 0x3a3;
const SMALL_SIGMA = 'σ';
const FINAL_SIGMA = 'ς';

const toText = (mapped: number | number[]): string => (typeof mapped === 'number' ? String.fromCodePoint(mapped) : String.fromCodePoint(...mapped));

/** Full case folding: CaseFolding.txt statuses C and F (Python's `casefold`); other code points are kept. */
const FOLD = new Map<number, string>();
for (const [codePoint, mapped] of foldCommon) FOLD.set(codePoint, toText(mapped));
for (const [codePoint, mapped] of foldFull) FOLD.set(codePoint, toText(mapped));

/** Full lower-case mapping: SpecialCasing.txt's unconditional entries, else UnicodeData's simple mapping (Python's `lower`). */
const LOWER = new Map<number, string>();
for (const [codePoint, mapped] of lowerSimple) LOWER.set(codePoint, toText(mapped));
for (const [codePoint, mapped] of lowerSpecial) LOWER.set(codePoint, toText(mapped));

const CASED = new Set(casedCodePoints);
const CASE_IGNORABLE = new Set(caseIgnorableCodePoints);
/** What Python's `str.isspace` holds for: bidirectional class WS, B or S, or category Zs. */
const WHITESPACE = new Set([...bidiWhiteSpace, ...bidiParagraphSeparator, ...bidiSegmentSeparator, ...spaceSeparator]);

const ASCII = /^[\x00-\x7f]*$/;

/** Python's `text.casefold()`. */
export function caseFold(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  let folded = '';
  for (const char of text) folded += FOLD.get(char.codePointAt(0)!) ?? char;
  return folded;
}

/** Python's `text.lower()`, with its Final_Sigma rule (Σ at the end of a word becomes ς). */
export function lowerCase(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  const codePoints = Array.from(text, (char) => char.codePointAt(0)!);
  let lowered = '';
  codePoints.forEach((codePoint, i) => {
    lowered += codePoint === CAPITAL_SIGMA ? (endsWord(codePoints, i) ? FINAL_SIGMA : SMALL_SIGMA) : LOWER.get(codePoint) ?? String.fromCodePoint(codePoint);
  });
  return lowered;
}

/**
 * Whether the sigma at `i` is final the way CPython decides it: the nearest code point before it
 * that is not case-ignorable is cased, and the nearest one after it that is not case-ignorable is
 * not cased or absent (a code point both cased and case-ignorable, like U+0345, is skipped).
 */
function endsWord(codePoints: number[], i: number): boolean {
  let before = i - 1;
  while (before >= 0 && CASE_IGNORABLE.has(codePoints[before]!)) before--;
  if (before < 0 || !CASED.has(codePoints[before]!)) return false;
  let after = i + 1;
  while (after < codePoints.length && CASE_IGNORABLE.has(codePoints[after]!)) after++;
  return after === codePoints.length || !CASED.has(codePoints[after]!);
}

/** Python's `text.strip()`: removes the code points `str.isspace` holds for from both ends (all in the BMP: one UTF-16 unit each). */
export function strip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && WHITESPACE.has(text.charCodeAt(start))) start++;
  while (end > start && WHITESPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}
