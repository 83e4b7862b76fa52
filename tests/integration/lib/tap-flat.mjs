// tap-flat.mjs — a node:test reporter that prints flat TAP 13: one
// "ok N - suite › test" line per test, details as "#" comments.
//
// Node's own TAP reporter nests subtests (indented lines), which Meson's TAP
// parser does not read: it lists every such line as UNKNOWN and counts only
// the top-level suites. Flat lines let `meson test` count and name each test.
//
// Use: node --test --test-reporter=/path/to/tap-flat.mjs test-x.mjs

function comment(text) {
  return String(text)
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n');
}

function describeError(err) {
  if (!err) return 'failed';
  // The runner wraps the real error (cause) in an ERR_TEST_FAILURE.
  const cause = err.cause ?? err;
  if (typeof cause !== 'object') return String(cause);
  let text = cause.stack || cause.message || String(cause);
  if (cause.code === 'ERR_ASSERTION' && cause.message && !text.includes(cause.message))
    text = `${cause.message}\n${text}`;
  if (err.failureType && err.failureType !== 'testCodeFailure') text = `${err.failureType}: ${text}`;
  return text;
}

export default async function* tapFlat(source) {
  yield 'TAP version 13\n';
  const names = []; // names[nesting] = name of the open test at that depth
  let n = 0;
  for await (const { type, data } of source) {
    switch (type) {
      case 'test:start':
        names[data.nesting] = data.name;
        names.length = data.nesting + 1;
        break;
      case 'test:pass':
      case 'test:fail': {
        const isSuite = data.details?.type === 'suite';
        const failure = data.details?.error;
        // A suite passes or fails through its tests, already reported; it is
        // reported itself only when it failed on its own (a hook, say).
        if (isSuite && (type === 'test:pass' || failure?.failureType === 'subtestsFailed')) break;
        if (type === 'test:fail' && failure?.failureType === 'subtestsFailed') break;
        const path = [...names.slice(0, data.nesting), data.name].filter(Boolean).join(' › ');
        const title = path.replace(/#/g, '\\#');
        let directive = '';
        if (data.skip !== undefined) directive = ` # SKIP${typeof data.skip === 'string' ? ` ${data.skip}` : ''}`;
        else if (data.todo !== undefined) directive = ` # TODO${typeof data.todo === 'string' ? ` ${data.todo}` : ''}`;
        n++;
        yield `${type === 'test:pass' ? 'ok' : 'not ok'} ${n} - ${title}${directive}\n`;
        if (type === 'test:fail') yield `${comment(describeError(failure))}\n`;
        break;
      }
      case 'test:diagnostic':
        // The runner's own totals ("tests 20", "pass 20", ...) are noise here.
        if (data.nesting > 0) yield `${comment(data.message)}\n`;
        break;
      case 'test:stdout':
      case 'test:stderr':
        yield `${comment(data.message.replace(/\n$/, ''))}\n`;
        break;
      default:
        break;
    }
  }
  yield `1..${n}\n`;
}
