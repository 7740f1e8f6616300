// Where the service's tasks come from: inline in the reset message, or a reference {set, id} into a
// built-in benchmark set loaded (once per set) from the benchmarks folder.
import { findSet } from "../env/tasks/registry";
import type { Task } from "../env/types";
import { ServiceError, type TaskReference } from "./protocol";

export class TaskSource {
  private readonly loaded = new Map<string, Promise<Map<string, Task>>>();

  constructor(private readonly benchmarksRoot: string) {}

  async resolve(ref: TaskReference): Promise<{ task: Task; setTasks: Task[] }> {
    const tasks = await this.setTasks(ref.set);
    const task = tasks.get(ref.id);
    if (!task) throw new ServiceError("unknown_task", `set "${ref.set}" has no task with id ${JSON.stringify(ref.id).slice(0, 200)}`);
    return { task, setTasks: [...tasks.values()] };
  }

  private setTasks(name: string): Promise<Map<string, Task>> {
    let pending = this.loaded.get(name);
    if (!pending) {
      const set = findSet(name);
      if (!set) throw new ServiceError("unknown_set", `no built-in set named ${JSON.stringify(name).slice(0, 200)}`);
      pending = set.load(this.benchmarksRoot).then(
        (r) => new Map(r.tasks.map((t) => [t.id, t])),
        (err: unknown) => {
          throw new ServiceError("set_load_failed", `loading set "${name}" from ${this.benchmarksRoot} failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
      // A failed load (missing folder) is reported and retried on the next reference, not cached.
      void pending.catch(() => this.loaded.delete(name));
      this.loaded.set(name, pending);
    }
    return pending;
  }
}
