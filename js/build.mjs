// Bundles each widget to ../raynb/static/<name>.js: one self-contained ES module per widget
// (anywidget `_esm`), CSS included, no runtime imports. Then bundles the JupyterLab side
// panel to lib/panel.js with JupyterLab's own packages left as imports: `jupyter labextension
// build` (the next step of `npm run build`) turns it into the prebuilt extension.
import { build } from "esbuild";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const WIDGETS = ["logview", "jobs", "cluster", "serve", "pipeline"];
const outdir = here("../raynb/static");

// The version is written once, in raynb/_version.py; package.json (which `jupyter labextension
// build` reads) and its lock file must say the same.
const version = /^__version__ = "([^"]+)"$/m.exec(await readFile(here("../raynb/_version.py"), "utf8"))?.[1];
for (const file of ["package.json", "package-lock.json"]) {
  const found = JSON.parse(await readFile(here(file), "utf8")).version;
  if (found !== version) {
    throw new Error(`js/${file} says version ${found}, raynb/_version.py says ${version}: make them agree`);
  }
}

const result = await build({
  entryPoints: Object.fromEntries(WIDGETS.map((w) => [w, here(`src/widgets/${w}.ts`)])),
  outdir,
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  write: false,
});

await mkdir(outdir, { recursive: true });
for (const file of result.outputFiles) {
  // esbuild ends with `export{x as default};`: spell it `export default x;`.
  const text = file.text.replace(/export\s*\{\s*([\w$]+) as default\s*\};?\s*$/, "export default $1;\n");
  if (!/export default [\w$]+;\n$/.test(text)) throw new Error(`${file.path}: no default export`);
  if (/\bimport\s*(?:[\w${},*\s]+from\s*)?["'`]|\bimport\s*\(/.test(text)) {
    throw new Error(`${file.path}: bundle must not import anything at run time`);
  }
  await writeFile(file.path, text);
  console.log(`${basename(file.path).padEnd(12)} ${(text.length / 1024).toFixed(1)} KiB`);
}

await build({
  entryPoints: [here("src/panel/index.ts")],
  outfile: here("lib/panel.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  external: ["@jupyterlab/*", "@lumino/*"],
  legalComments: "none",
});
console.log("lib/panel.js (for jupyter labextension build)");
