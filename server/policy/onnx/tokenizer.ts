// Text <-> token ids for a model folder, through Hugging Face's own JavaScript tokenizer
// library (the one transformers.js uses), so ids match Python's `tokenizers` exactly.

export interface ModelTokenizer {
  /** Ids of `text` as is: no BOS/EOS added (the chat template places special tokens itself). */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Id of a token string, e.g. "<|im_end|>", if the vocabulary has it. */
  tokenId(token: string): number | undefined;
  /** The special tokens a chat template may refer to (bos_token, eos_token, ...). */
  specialTokens: Record<string, string>;
}

export async function loadTokenizer(
  tokenizerJson: Record<string, unknown>,
  tokenizerConfig: Record<string, unknown>,
): Promise<ModelTokenizer> {
  // The package is ESM; this file compiles to CommonJS, so it is loaded with import().
  const { Tokenizer } = await import("@huggingface/tokenizers");
  let tokenizer: InstanceType<typeof Tokenizer>;
  try {
    tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  } catch (error) {
    throw new Error(`tokenizer.json could not be loaded: ${(error as Error).message}`);
  }
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    // The library rejects an empty list; the empty sequence decodes to "".
    decode: (ids) => (ids.length === 0 ? "" : tokenizer.decode([...ids], { skip_special_tokens: false })),
    tokenId: (token) => tokenizer.token_to_id(token),
    specialTokens: specialTokensOf(tokenizerConfig),
  };
}

const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"];

/** tokenizer_config.json stores each either as a string or as an AddedToken object {content}. */
function specialTokensOf(tokenizerConfig: Record<string, unknown>): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = tokenizerConfig[key];
    if (typeof value === "string") tokens[key] = value;
    else if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") {
      tokens[key] = (value as { content: string }).content;
    }
  }
  return tokens;
}

/**
 * Turns a growing list of ids into text pieces as they become final. A byte-level token may
 * carry only part of a UTF-8 character; its text is withheld until the character is complete.
 * Decoding a short window (not the whole completion) each time keeps this linear.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly tokenizer: Pick<ModelTokenizer, "decode">) {}

  push(id: number): string {
    this.ids.push(id);
    const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (after.length > before.length && !after.endsWith("\uFFFD")) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return after.slice(before.length);
    }
    return "";
  }

  /** Whatever is still withheld when generation ends (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const before = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const after = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return after.slice(before.length);
  }
}
