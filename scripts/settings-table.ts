import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { markdownTable, TABLE_BEGIN, TABLE_END } from '../src/config/settings.js';

/** Rewrites the README's settings table from the settings table in src/config/settings.ts. */
const file = join(import.meta.dirname, '..', '..', 'README.md');
const text = readFileSync(file, 'utf8');
const a = text.indexOf(TABLE_BEGIN);
const b = text.indexOf(TABLE_END);
if (a < 0 || b < a) throw new Error(`README.md has no ${TABLE_BEGIN} … ${TABLE_END} block`);
writeFileSync(file, `${text.slice(0, a + TABLE_BEGIN.length)}\n${markdownTable()}\n${text.slice(b)}`);
