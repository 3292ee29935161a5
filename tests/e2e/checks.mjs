// The checks every page passes at every size: nothing wider than the window, no table that
// hides a column, and axe-core's audit without a serious or critical violation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/// What is wrong with the page's layout, as sentences; empty when it fits.
export async function layoutProblems(page) {
  return page.evaluate(() => {
    const problems = [];
    const width = document.documentElement.clientWidth;
    const name = (el) => {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.innerText || el.getAttribute('aria-label') || '').trim().slice(0, 40);
      return `<${el.tagName.toLowerCase()}${id}${cls}> "${text}"`;
    };
    // Hidden on purpose: clipped to nothing for screen readers only, or moved off the left edge
    // (the skip link until it has focus).
    const clippedAway = (el) => {
      for (let node = el; node && node !== document.body; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (style.clip === 'rect(0px, 0px, 0px, 0px)' || style.display === 'none' || style.visibility === 'hidden') {
          return true;
        }
      }
      return false;
    };
    if (document.documentElement.scrollWidth > width) {
      problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px in a ${width} px window`);
    }
    const controls = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'OPTION']);
    for (const el of document.body.querySelectorAll('*')) {
      if (controls.has(el.tagName) || el.closest('svg, select, dialog:not([open])') || clippedAway(el)) {
        continue;
      }
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      if (box.right <= 0) continue; // off the left edge on purpose
      if (box.left < -0.5 || box.right > width + 0.5) {
        problems.push(`${name(el)} reaches ${Math.round(box.left)}–${Math.round(box.right)} px in a ${width} px window`);
      }
      const style = getComputedStyle(el);
      if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
        problems.push(`${name(el)} hides ${el.scrollWidth - el.clientWidth} px of its content sideways`);
      }
    }
    for (const table of document.querySelectorAll('table')) {
      if (getComputedStyle(table).display === 'table') {
        // A table as a table: every column header on screen, whole.
        for (const th of table.querySelectorAll('thead th')) {
          const box = th.getBoundingClientRect();
          let hidden = box.width < 1 || box.left < 0 || box.right > width || th.scrollWidth > th.clientWidth + 1;
          // Nor scrolled out of a box that scrolls (or clips) sideways.
          for (let node = th.parentElement; node && !hidden; node = node.parentElement) {
            if (getComputedStyle(node).overflowX !== 'visible') {
              const frame = node.getBoundingClientRect();
              hidden = box.left < frame.left - 0.5 || box.right > frame.right + 0.5;
            }
          }
          if (hidden) {
            problems.push(`the column header ${name(th)} is not wholly visible`);
          }
        }
      } else {
        // A table as cards: every cell of every row says which column it is.
        const headers = [...table.querySelectorAll('thead th')].map((th) => th.innerText.trim().toLowerCase());
        for (const row of table.querySelectorAll('tbody tr')) {
          const cells = [...row.children];
          if (cells.length !== headers.length) {
            problems.push(`a row of ${cells.length} cells under ${headers.length} headers`);
          }
          cells.forEach((cell, i) => {
            const label = getComputedStyle(cell, '::before').content;
            const labelled = label.toLowerCase().includes(headers[i]) || cell.querySelector('dt');
            if (!labelled) {
              problems.push(`${name(cell)} shows no label for the column "${headers[i]}"`);
            }
          });
        }
      }
    }
    return problems;
  });
}

/// axe-core's violations of impact serious or critical, each as a sentence with its nodes.
/// The source runs through the DevTools protocol, which the page's CSP does not govern: the
/// pages are audited under their real policy.
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.evaluate(AXE_SOURCE);
  }
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return {
    serious: violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`),
    other: violations.filter((v) => v.impact !== 'serious' && v.impact !== 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.join(', ')})`),
  };
}
