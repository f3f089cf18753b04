import assert from "node:assert/strict";
import { join } from "node:path";
import { History } from "../../kernel/history.ts";

Deno.test("history: sessions persist; tail, range, search with unique and n", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "sub", "history.jsonl");
    const h1 = await History.open(file);
    assert.equal(h1.session, 1);
    await h1.append(1, "const a = 1;");
    await h1.append(2, "a + 1");
    await Deno.writeTextFile(file, "{torn", { append: true });
    const h2 = await History.open(file);
    assert.equal(h2.session, 2);
    await h2.append(1, "a + 1");
    await h2.append(2, "const b = 2;");
    assert.deepEqual(h2.tail(2), [[2, 1, "a + 1"], [2, 2, "const b = 2;"]]);
    assert.deepEqual(h2.range(0, 2), [[2, 2, "const b = 2;"]]);
    assert.deepEqual(h2.range(-1, 1, 2), [[1, 1, "const a = 1;"]]);
    assert.deepEqual(h2.search("a*"), [[1, 2, "a + 1"], [2, 1, "a + 1"]]);
    assert.deepEqual(h2.search("a*", undefined, true), [[2, 1, "a + 1"]]);
    assert.deepEqual(h2.search("const*", 1), [[2, 2, "const b = 2;"]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
