export async function addOne(n: number): Promise<number> {
  return n + 1;
}
