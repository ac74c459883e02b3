/**
 * The `?` parameters of an operator's query (ma1sd's JDBC convention): found outside string
 * literals, quoted names and comments, counted for every database and numbered `$1, $2…` for
 * PostgreSQL, whose protocol knows no `?`. There `??` stands for a literal `?` (as in JDBC), so
 * PostgreSQL's JSON operators stay writable.
 */
import type { SqlDialect } from './driver.js';

interface Scan {
  /** Offsets of the placeholders. */
  placeholders: number[];
  /** Offsets of `??` pairs, each standing for one `?`. */
  escapes: number[];
}

const DOLLAR_TAG = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;

function scan(sql: string, dialect: SqlDialect): Scan {
  const placeholders: number[] = [];
  const escapes: number[] = [];
  const backslashEscapes = dialect === 'mysql';
  let i = 0;
  const skipQuoted = (quote: string, backslash: boolean) => {
    i++;
    while (i < sql.length) {
      if (backslash && sql[i] === '\\') i += 2;
      else if (sql[i] === quote && sql[i + 1] === quote) i += 2;
      else if (sql[i] === quote) { i++; return; } else i++;
    }
  };
  while (i < sql.length) {
    const c = sql[i];
    if (c === '\'') {
      // PostgreSQL's E'…' strings take backslash escapes; MySQL's strings always do.
      skipQuoted('\'', backslashEscapes || (dialect === 'postgresql' && /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '')));
    } else if (c === '"') {
      skipQuoted('"', backslashEscapes);
    } else if (c === '`' && dialect !== 'postgresql') {
      skipQuoted('`', false);
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '#' && dialect === 'mysql') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === '$' && dialect === 'postgresql' && !/\w/.test(sql[i - 1] ?? '')) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql);
      if (tag) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? sql.length : end + tag[0].length;
      } else i++;
    } else if (c === '?') {
      if (sql[i + 1] === '?' && dialect === 'postgresql') {
        escapes.push(i);
        i += 2;
      } else {
        placeholders.push(i);
        i++;
      }
    } else i++;
  }
  return { placeholders, escapes };
}

export function countPlaceholders(sql: string, dialect: SqlDialect): number {
  return scan(sql, dialect).placeholders.length;
}

/** The query as the driver takes it: for PostgreSQL `$1, $2…`, and `??` made `?`; unchanged elsewhere. */
export function driverSql(sql: string, dialect: SqlDialect): string {
  if (dialect !== 'postgresql') return sql;
  const { placeholders, escapes } = scan(sql, dialect);
  const marks = [...placeholders.map((at) => ({ at, length: 1, placeholder: true })), ...escapes.map((at) => ({ at, length: 2, placeholder: false }))]
    .sort((a, b) => a.at - b.at);
  if (marks.length === 0) return sql;
  let out = '';
  let from = 0;
  let n = 0;
  for (const mark of marks) {
    out += sql.slice(from, mark.at) + (mark.placeholder ? `$${++n}` : '?');
    from = mark.at + mark.length;
  }
  return out + sql.slice(from);
}
