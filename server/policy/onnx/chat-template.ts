// Renders a conversation through the model's own chat template with @huggingface/jinja, the
// JavaScript Jinja that transformers.js uses; a test holds its token ids against Python's.
import type { ChatMessage } from "../types";

export type ChatTemplateRenderer = (messages: readonly ChatMessage[]) => string;

const ROLES = new Set(["system", "user", "assistant"]);

export async function compileChatTemplate(
  source: string,
  specialTokens: Record<string, string>,
): Promise<ChatTemplateRenderer> {
  // The package is ESM; this file compiles to CommonJS, so it is loaded with import().
  const { Template } = await import("@huggingface/jinja");
  let template: InstanceType<typeof Template>;
  try {
    template = new Template(source);
  } catch (error) {
    throw new Error(`chat template does not parse: ${(error as Error).message}`);
  }
  return (messages) => {
    validateMessages(messages);
    try {
      // The same variables transformers' apply_chat_template passes.
      return template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: true,
        ...specialTokens,
      });
    } catch (error) {
      throw new Error(`chat template failed to render: ${(error as Error).message}`);
    }
  };
}

function validateMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new Error("a chat needs at least one message");
  messages.forEach((message, index) => {
    if (typeof message !== "object" || message === null) throw new Error(`message ${index} is not an object`);
    if (!ROLES.has(message.role)) {
      throw new Error(`message ${index} has role ${JSON.stringify(message.role)}; expected system, user or assistant`);
    }
    if (typeof message.content !== "string") throw new Error(`message ${index} content must be a string`);
  });
}
