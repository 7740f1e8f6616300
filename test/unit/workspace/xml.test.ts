import { test } from "node:test";
import assert from "node:assert/strict";
import { findAll, MalformedXmlError, parseXml } from "../../../server/env/workspace/xml";

test("parses elements, attributes, text, CDATA and entities", () => {
  const root = parseXml(`<?xml version="1.0"?>\n<!-- c --><a x="1 &lt; 2" y='&#65;&#x42;'><b>t &amp; u<![CDATA[<raw>]]></b><c/></a>\n`);
  assert.equal(root.name, "a");
  assert.deepEqual(root.attributes, { x: "1 < 2", y: "AB" });
  assert.equal(root.children[0].text, "t & u<raw>");
  assert.equal(root.children[1].name, "c");
  assert.deepEqual(
    findAll(root, "c").map((hit) => hit.ancestors.map((a) => a.name)),
    [["a"]],
  );
});

const malformed: Array<[string, string, RegExp]> = [
  ["truncated mid-document", `<testsuites><testsuite name="x"><testcase name="a">`, /unclosed element <testcase>/],
  ["mismatched closing tag", `<a><b></a></b>`, /does not match <b>/],
  ["empty input", ``, /no root element/],
  ["two roots", `<a/><b/>`, /more than one root/],
  ["text outside the root", `garbage<a/>`, /text outside the root/],
  ["unquoted attribute", `<a x=1/>`, /not quoted/],
  ["unknown entity", `<a>&nbsp;</a>`, /unknown entity/],
  ["a DOCTYPE (entity expansion attacks)", `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, /DOCTYPE/],
  ["duplicate attribute", `<a x="1" x="2"/>`, /duplicate attribute x/],
  ["unterminated comment", `<a><!-- never closed</a>`, /unterminated comment/],
  ["binary garbage before the root", "\u0000\u0001<a/>", /text outside the root/],
  ["a tag without a name", "<\u0002>", /expected a name/],
];
for (const [what, xml, message] of malformed) {
  test(`rejects malformed XML: ${what}`, () => {
    assert.throws(() => parseXml(xml), (error: unknown) => error instanceof MalformedXmlError && message.test(error.message));
  });
}

test("rejects nesting deeper than the limit instead of overflowing the stack", () => {
  const deep = "<a>".repeat(10_000) + "</a>".repeat(10_000);
  assert.throws(() => parseXml(deep), /nested deeper than/);
});
