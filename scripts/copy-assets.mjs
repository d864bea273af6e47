// tsc compiles TypeScript only; the SQL migrations are read at run time next to the compiled stores.
import { cpSync } from 'node:fs';

for (const store of ['sqlite', 'postgres']) {
  cpSync(`src/store/${store}/migrations`, `dist/store/${store}/migrations`, { recursive: true });
}
