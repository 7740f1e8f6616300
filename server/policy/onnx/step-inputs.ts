// The int64 inputs of one decoder step (input_ids, attention_mask, position_ids), written into
// buffers that live as long as the sequence. A step only views them: onnxruntime-node wraps a
// typed array's memory without copying it and `session.run` is done with it when it returns, so
// nothing here is allocated per token (the old loop built three BigInt64Arrays per token, one of
// them as long as the whole sequence).
import * as ort from "onnxruntime-node";

/** The attention mask grows in steps of this many positions, so it is reallocated rarely. */
const MASK_GROWTH = 256;

export interface StepTensors {
  inputIds: ort.Tensor;
  attentionMask: ort.Tensor;
  positionIds: ort.Tensor;
}

export class StepInputs {
  private ids = new BigInt64Array(1);
  private positions = new BigInt64Array(1);
  /** All ones: the batch holds one unpadded sequence, so the mask of `total` positions is a prefix. */
  private ones = new BigInt64Array(0);

  /**
   * Tensors for running `tokenIds` at positions `pastLength` .. `pastLength + tokenIds.length - 1`.
   * They view this object's buffers, so they are valid until the next call.
   */
  next(tokenIds: readonly number[], pastLength: number): StepTensors {
    const count = tokenIds.length;
    if (count === 0) throw new Error("a decoder step needs at least one token");
    if (!Number.isSafeInteger(pastLength) || pastLength < 0) throw new Error(`past length must be an integer >= 0, got ${pastLength}`);
    const total = pastLength + count;
    if (this.ids.length < count) {
      this.ids = new BigInt64Array(count);
      this.positions = new BigInt64Array(count);
    }
    if (this.ones.length < total) this.ones = new BigInt64Array(Math.ceil(total / MASK_GROWTH) * MASK_GROWTH).fill(1n);
    for (let k = 0; k < count; k++) {
      const id = tokenIds[k];
      if (!Number.isSafeInteger(id) || id < 0) throw new Error(`token ids[${k}] = ${id} is not a token id`);
      this.ids[k] = BigInt(id);
      this.positions[k] = BigInt(pastLength + k);
    }
    return {
      inputIds: new ort.Tensor("int64", this.ids.subarray(0, count), [1, count]),
      attentionMask: new ort.Tensor("int64", this.ones.subarray(0, total), [1, total]),
      positionIds: new ort.Tensor("int64", this.positions.subarray(0, count), [1, count]),
    };
  }
}
