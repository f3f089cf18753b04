import assert from "node:assert/strict";
import { architectureSvg, JUPYTER_DISPLAY, teskdDiagram } from "../../lib/analysis/mod.ts";
import { createTeskd } from "../../lib/models/zoo.ts";
import { teskdSummary } from "../../lib/models/summary.ts";

/** Parses SVG with python's xml.etree; returns the text of all <text> elements (or throws). */
async function parseSvg(svg: string): Promise<string[]> {
  const code = "import sys, json, xml.etree.ElementTree as ET\n" +
    "root = ET.fromstring(sys.stdin.read())\n" +
    "assert root.tag == '{http://www.w3.org/2000/svg}svg', root.tag\n" +
    "print(json.dumps([''.join(e.itertext()) for e in root.iter('{http://www.w3.org/2000/svg}text')]))";
  const p = new Deno.Command("/usr/bin/python3", {
    args: ["-c", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(svg));
  await w.close();
  const out = await p.output();
  assert.equal(out.code, 0, `SVG is not well-formed XML:\n${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const fmt = (n: number) => `${n.toLocaleString("en-US")} params`;

Deno.test("diagram: teacher stages, pathway and students as they are attached", async () => {
  const net = createTeskd("cifarresnet18", {
    numClasses: 10,
    widthMultiplier: 1 / 16,
    width: 16,
    levels: ["8x8"],
  });
  try {
    const d = teskdDiagram(net);
    const b1 = d[JUPYTER_DISPLAY]();
    assert.deepEqual(Object.keys(b1).sort(), ["image/svg+xml", "text/html", "text/plain"]);
    const inline = /^<div class="teskd-diagram">(<svg [\s\S]*<\/svg>)<\/div>$/.exec(
      String(b1["text/html"]),
    );
    assert.ok(inline, "the HTML holds the SVG inline");
    assert.deepEqual(await parseSvg(inline[1]), await parseSvg(String(b1["image/svg+xml"])));
    const texts1 = await parseSvg(String(b1["image/svg+xml"]));
    const rows1 = teskdSummary(net, 32);
    for (const r of rows1) {
      if (r.part === "teacher") {
        assert.ok(texts1.includes(r.name === "head" ? "teacher head" : `teacher ${r.name}`));
      }
      assert.ok(texts1.includes(r.output), `output ${r.output}`);
      assert.ok(texts1.includes(fmt(r.params)), `params of ${r.name}`);
    }
    assert.ok(texts1.includes("student head 8x8"));
    assert.ok(!texts1.includes("student head 16x16"));
    assert.ok(texts1.some((t) => t.includes("fuse_3")));
    assert.ok(texts1.some((t) => t === "laterals.2") && texts1.includes("2× up"));
    const total1 = net.parameterCount().toLocaleString("en-US");
    assert.ok(
      texts1.some((t) =>
        t === `1 student attached · ${total1} parameters in all · fusion add-concat`
      ),
    );
    assert.match(String(b1["text/plain"]), /head 8x8/);

    net.attachStudent("16x16");
    const texts2 = await parseSvg(String(d[JUPYTER_DISPLAY]()["image/svg+xml"]));
    const head16 = teskdSummary(net, 32).find((r) => r.name === "head 16x16")!;
    assert.ok(texts2.includes("student head 16x16"), "the new student appears");
    assert.ok(texts2.includes(fmt(head16.params)));
    assert.ok(texts2.some((t) => t.startsWith("2 students attached")));
  } finally {
    net.dispose();
  }
  assert.throws(() => architectureSvg([]), /no teacher stages/);
  const esc = architectureSvg([
    { part: "teacher", name: "stage 1", modules: "a", output: "<x&y>", params: 1 },
  ]);
  assert.deepEqual((await parseSvg(esc)).filter((t) => t === "<x&y>").length, 1);
});
