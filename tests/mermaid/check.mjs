// Parse each Mermaid file named on the command line with mermaid.parse, the
// parser Mermaid itself renders with (GitHub and GitLab render with it too).
// Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom provides
// one, so no browser is needed.  Exit 1 if any file does not parse.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

let failed = 0;
for (const path of process.argv.slice(2)) {
  try {
    const result = await mermaid.parse(readFileSync(path, 'utf8'));
    console.log(`${path}: ok ${result.diagramType}`);
  } catch (error) {
    failed += 1;
    console.log(`${path}: ${error.message}`);
  }
}
process.exit(failed ? 1 : 0);
