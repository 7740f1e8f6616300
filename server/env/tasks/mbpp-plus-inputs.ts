// MBPP+ stores every input as JSON, which has no tuples, sets or complex numbers; EvalPlus restores the
// Python types per task before calling a solution (evalplus/data/mbpp.py, `mbpp_deserialize_inputs`).
// This is the same table, producing the harness's tagged JSON ({"$tuple": [...]}, {"$set": [...]}, ...).
import { parseLossless, RecordShapeError, stringifyNode, type JsonNode } from "./lossless-json";

const TUPLE_EACH_ARG = [2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809];
const TUPLE_EACH_ITEM_OF_EACH_ARG = [63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780];
const FIRST_ARG_ITEMS_TUPLES = [75, 413, 444, 753];
const SECOND_ARG_TUPLE = [106, 750];
const FIRST_ARG_TUPLE = [250, 405, 446, 617, 720, 763, 808];
const NESTED_THEN_TUPLE = [259, 401, 445];
const ALL_LISTS_TUPLES = [580, 615, 791];

const span = { start: 0, end: 0 };

function tagged(tag: string, inner: JsonNode): JsonNode {
  return { type: "object", entries: [[tag, inner]], ...span };
}

function items(node: JsonNode, what: string): JsonNode[] {
  if (node.type !== "array") throw new RecordShapeError(`MBPP+ input: ${what} must be a list, found ${node.type}`);
  return node.items;
}

function array(nodes: JsonNode[]): JsonNode {
  return { type: "array", items: nodes, ...span };
}

const tuple = (node: JsonNode): JsonNode => tagged("$tuple", array(items(node, "a tuple's source")));

function allTuples(node: JsonNode): JsonNode {
  return node.type === "array" ? tagged("$tuple", array(node.items.map(allTuples))) : node;
}

/** The argument list of one MBPP+ input (raw JSON text) in the harness's tagged JSON. */
export function mbppPlusArgsJson(taskNumber: number, argListJson: string): string {
  const args = items(parseLossless(argListJson).root, "the argument list");
  const n = taskNumber;
  let converted: JsonNode;
  if (TUPLE_EACH_ARG.includes(n)) converted = array(args.map(tuple));
  else if (TUPLE_EACH_ITEM_OF_EACH_ARG.includes(n)) converted = array(args.map((a) => array(items(a, "an argument").map(tuple))));
  else if (FIRST_ARG_ITEMS_TUPLES.includes(n)) converted = array([array(items(args[0], "the first argument").map(tuple)), args[1]]);
  else if (SECOND_ARG_TUPLE.includes(n)) converted = array([args[0], tuple(args[1])]);
  else if (n === 115) {
    converted = array([
      array(
        items(args[0], "the first argument").map((item) =>
          item.type === "array" && item.items.length ? tagged("$set", item) : tagged("$dict", array([])),
        ),
      ),
    ]);
  } else if (n === 124) converted = tagged("$tuple", array([tagged("$float", args[0]), tagged("$complex", args[1])]));
  else if (FIRST_ARG_TUPLE.includes(n)) converted = array([tuple(args[0]), ...args.slice(1)]);
  else if (NESTED_THEN_TUPLE.includes(n)) converted = array(args.map((a) => tagged("$tuple", array(items(a, "an argument").map(tuple)))));
  else if (n === 278) {
    const first = array(items(args[0], "the first argument").map((item) => (item.type === "array" ? tuple(item) : item)));
    converted = array([tagged("$tuple", first)]);
  } else if (n === 307) converted = array([tuple(args[0]), args[1], args[2]]);
  else if (n === 722) {
    const dict = args[0];
    if (dict.type !== "object") throw new RecordShapeError(`MBPP+ input: Mbpp/722 expects a dict first`);
    converted = array([{ type: "object", entries: dict.entries.map(([k, v]) => [k, tuple(v)]), ...span }, ...args.slice(1)]);
  } else if (n === 252) converted = array([tagged("$complex", args[0])]);
  else if (ALL_LISTS_TUPLES.includes(n)) converted = allTuples(array(args));
  else return argListJson;
  return stringifyNode(converted);
}
