import Database from 'better-sqlite3';

/**
 * Raw single-row commits per second on the same SQLite settings as the store (WAL, and the same
 * `synchronous`): the ceiling a design with one commit per step would hit, measured in the same run
 * so that a noisy machine shows as a ratio.
 */
export function rawCommitsPerSecond(
  path: string,
  synchronous: 'full' | 'normal',
  seconds = 1.5,
): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const commit = db.transaction((v: string) => insert.run(v));
  const end = performance.now() + seconds * 1000;
  let commits = 0;
  const start = performance.now();
  while (performance.now() < end) {
    commit('x'.repeat(100));
    commits++;
  }
  const elapsed = (performance.now() - start) / 1000;
  db.close();
  return commits / elapsed;
}
