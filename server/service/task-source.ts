// Where the service's tasks come from: inline in the reset message, or a reference {set, id} into a
// built-in benchmark set loaded (once per set) from the benchmarks folder.
import { findSet } from "../env/tasks/registry";
import { trainableTasks, type BenchmarkSet } from "../env/tasks/set";
import type { Task } from "../env/types";
import { ServiceError, type TaskListing, type TaskReference } from "./protocol";

export class TaskSource {
  private readonly loaded = new Map<string, Promise<Map<string, Task>>>();
  private readonly listings = new Map<string, Promise<TaskListing>>();

  constructor(private readonly benchmarksRoot: string) {}

  async resolve(ref: TaskReference): Promise<{ task: Task; setTasks: Task[] }> {
    const tasks = await this.setTasks(ref.set);
    const task = tasks.get(ref.id);
    if (!task) throw new ServiceError("unknown_task", `set "${ref.set}" has no task with id ${JSON.stringify(ref.id).slice(0, 200)}`);
    return { task, setTasks: [...tasks.values()] };
  }

  /** Every task a reference can reach, in load order, with whether the set's licence allows training on it. */
  list(name: string): Promise<TaskListing> {
    return this.cached(this.listings, name, async (set) => {
      const tasks = await this.setTasks(name);
      const trainable = await trainableTasks(set, tasks.keys(), this.benchmarksRoot).catch((err: unknown) => {
        throw this.loadFailed(name, err);
      });
      return { trainable: set.trainable, tasks: [...trainable].map(([id, t]) => ({ id, trainable: t })) };
    });
  }

  private setTasks(name: string): Promise<Map<string, Task>> {
    return this.cached(this.loaded, name, (set) =>
      set.load(this.benchmarksRoot).then(
        // A duplicated id (APPS repeats some records) becomes one entry, at its first position.
        (r) => new Map(r.tasks.map((t) => [t.id, t])),
        (err: unknown) => {
          throw this.loadFailed(name, err);
        },
      ),
    );
  }

  private cached<T>(cache: Map<string, Promise<T>>, name: string, make: (set: BenchmarkSet) => Promise<T>): Promise<T> {
    let pending = cache.get(name);
    if (!pending) {
      const set = findSet(name);
      if (!set) return Promise.reject(new ServiceError("unknown_set", `no built-in set named ${JSON.stringify(name).slice(0, 200)}`));
      pending = make(set);
      // A failed load (missing folder) is reported and retried on the next request, not cached.
      void pending.catch(() => cache.delete(name));
      cache.set(name, pending);
    }
    return pending;
  }

  private loadFailed(name: string, err: unknown): ServiceError {
    return new ServiceError("set_load_failed", `loading set "${name}" from ${this.benchmarksRoot} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
