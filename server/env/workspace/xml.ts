// A small, strict XML reader for test reports (pytest's JUnit XML).
// Reports come from a run of untrusted code, so anything malformed is an error with a position,
// never a partial tree; no DTDs or external entities are ever resolved.

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (text and CDATA). */
  text: string;
}

export class MalformedXmlError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`malformed XML at offset ${offset}: ${message}`);
    this.name = "MalformedXmlError";
  }
}

const NAMED_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const MAX_DEPTH = 256;

function decodeEntities(raw: string, offset: number): string {
  return raw.replace(/&([^;&\s]*);?/g, (match, body: string, at: number) => {
    if (!match.endsWith(";")) throw new MalformedXmlError(`unterminated entity "${match}"`, offset + at);
    if (body in NAMED_ENTITIES) return NAMED_ENTITIES[body];
    const code = /^#x[0-9a-fA-F]+$/.test(body) ? parseInt(body.slice(2), 16) : /^#[0-9]+$/.test(body) ? parseInt(body.slice(1), 10) : NaN;
    if (!Number.isInteger(code) || code > 0x10ffff) throw new MalformedXmlError(`unknown entity "${match}"`, offset + at);
    return String.fromCodePoint(code);
  });
}

/** Parses one XML document and returns its root element. Throws MalformedXmlError. */
export function parseXml(source: string): XmlElement {
  let pos = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const fail = (message: string): never => {
    throw new MalformedXmlError(message, pos);
  };
  const skipUntil = (terminator: string, what: string): void => {
    const end = source.indexOf(terminator, pos);
    if (end < 0) fail(`unterminated ${what}`);
    pos = end + terminator.length;
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(source);
    if (!m) fail("expected a name");
    pos += m![0].length;
    return m![0];
  };
  const skipSpace = (): void => {
    while (pos < source.length && /\s/.test(source[pos])) pos++;
  };
  const appendText = (text: string): void => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
    else if (text.trim() !== "") fail("text outside the root element");
  };

  if (source.charCodeAt(0) === 0xfeff) pos = 1;
  while (pos < source.length) {
    const lt = source.indexOf("<", pos);
    if (lt < 0) {
      appendText(decodeEntities(source.slice(pos), pos));
      break;
    }
    if (lt > pos) appendText(decodeEntities(source.slice(pos, lt), pos));
    pos = lt;
    if (source.startsWith("<?", pos)) {
      skipUntil("?>", "processing instruction");
    } else if (source.startsWith("<!--", pos)) {
      skipUntil("-->", "comment");
    } else if (source.startsWith("<![CDATA[", pos)) {
      const start = pos + 9;
      skipUntil("]]>", "CDATA section");
      if (stack.length === 0) fail("CDATA outside the root element");
      appendText(source.slice(start, pos - 3));
    } else if (source.startsWith("<!", pos)) {
      fail("DOCTYPE and other declarations are not accepted in test reports");
    } else if (source.startsWith("</", pos)) {
      pos += 2;
      const name = readName();
      skipSpace();
      if (source[pos] !== ">") fail(`expected ">" to close </${name}`);
      pos++;
      const open = stack.pop();
      if (!open) fail(`closing tag </${name}> without an open element`);
      if (open!.name !== name) fail(`closing tag </${name}> does not match <${open!.name}>`);
    } else {
      pos++;
      const element: XmlElement = { name: readName(), attributes: {}, children: [], text: "" };
      while (true) {
        skipSpace();
        if (source.startsWith("/>", pos) || source[pos] === ">") break;
        if (pos >= source.length) fail(`unterminated start tag <${element.name}`);
        const attr = readName();
        skipSpace();
        if (source[pos] !== "=") fail(`attribute ${attr} has no value`);
        pos++;
        skipSpace();
        const quote = source[pos];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attr} value is not quoted`);
        const end = source.indexOf(quote, pos + 1);
        if (end < 0) fail(`unterminated value of attribute ${attr}`);
        const raw = source.slice(pos + 1, end);
        if (raw.includes("<")) fail(`"<" inside the value of attribute ${attr}`);
        if (attr in element.attributes) fail(`duplicate attribute ${attr}`);
        element.attributes[attr] = decodeEntities(raw, pos + 1);
        pos = end + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(element);
      else if (root) fail("more than one root element");
      else root = element;
      if (source[pos] === ">") {
        pos++;
        if (stack.length >= MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
        stack.push(element);
      } else {
        pos += 2;
      }
    }
  }
  if (stack.length > 0) throw new MalformedXmlError(`unclosed element <${stack[stack.length - 1].name}>`, source.length);
  if (!root) throw new MalformedXmlError("no root element", source.length);
  return root;
}

/** All descendants named `name`, in document order, with their chain of ancestors (outermost first). */
export function findAll(root: XmlElement, name: string): { element: XmlElement; ancestors: XmlElement[] }[] {
  const found: { element: XmlElement; ancestors: XmlElement[] }[] = [];
  const walk = (el: XmlElement, ancestors: XmlElement[]): void => {
    for (const child of el.children) {
      if (child.name === name) found.push({ element: child, ancestors });
      walk(child, [...ancestors, child]);
    }
  };
  walk(root, [root]);
  return found;
}
