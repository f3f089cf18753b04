/**
 * A real one-node Slurm cluster for the tests, on this machine: munged with a fresh key, slurmctld
 * and slurmd from Debian's slurm-wlm with a generated configuration (no cgroups, no accounting
 * database: `proctrack/linuxproc`, `task/none`), in a temporary folder on free ports. The tests'
 * Slurm commands find it through `SLURM_CONF`. `stop()` cancels every job and stops the daemons
 * this fixture started.
 */
import { join } from "node:path";

/** A running test cluster. */
export interface TestCluster {
  /** `SLURM_CONF` for the client commands (also set in this process's environment). */
  conf: string;
  /** The cluster's folder (logs: slurmctld.log, slurmd.log, munged.log). */
  dir: string;
  /** Runs a Slurm command against the cluster; its stdout. */
  run(cmd: string, ...args: string[]): Promise<string>;
  /** Cancels all jobs, stops the daemons, restores the environment. */
  stop(): Promise<void>;
}

function freePort(): number {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    try {
      const l = Deno.listen({ hostname: "127.0.0.1", port });
      l.close();
      return port;
    } catch { /* taken: try another */ }
  }
}

async function exec(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

async function readPid(path: string): Promise<number | null> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Whether a process runs (a zombie, which nobody may reap in a container, does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat !== "" && stat[stat.lastIndexOf(")") + 2] !== "Z";
}

/** Starts a one-node cluster (CPUs = this machine's cores) and waits until its node is idle. */
export async function startCluster(): Promise<TestCluster> {
  const dir = await Deno.makeTempDir({ prefix: "teskd-slurm-" });
  for (const sub of ["state", "spool"]) await Deno.mkdir(join(dir, sub));
  const key = join(dir, "munge.key");
  await Deno.writeFile(key, crypto.getRandomValues(new Uint8Array(1024)), { mode: 0o400 });
  const socket = join(dir, "munge.sock");
  await exec("/usr/sbin/munged", [
    "--force",
    "--key-file",
    key,
    "--socket",
    socket,
    "--pid-file",
    join(dir, "munged.pid"),
    "--log-file",
    join(dir, "munged.log"),
    "--seed-file",
    join(dir, "munge.seed"),
  ]);
  const host = Deno.hostname().split(".")[0];
  const cpus = navigator.hardwareConcurrency;
  const conf = join(dir, "slurm.conf");
  await Deno.writeTextFile(
    conf,
    [
      "ClusterName=teskdtest",
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${freePort()}`,
      `SlurmdPort=${freePort()}`,
      "SlurmUser=root",
      "SlurmdUser=root",
      "AuthType=auth/munge",
      `AuthInfo=socket=${socket}`,
      "CredType=cred/munge",
      `StateSaveLocation=${join(dir, "state")}`,
      `SlurmdSpoolDir=${join(dir, "spool")}`,
      `SlurmctldPidFile=${join(dir, "slurmctld.pid")}`,
      `SlurmdPidFile=${join(dir, "slurmd.pid")}`,
      `SlurmctldLogFile=${join(dir, "slurmctld.log")}`,
      `SlurmdLogFile=${join(dir, "slurmd.log")}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "SchedulerType=sched/backfill",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "ReturnToService=2",
      "MpiDefault=none",
      "SwitchType=switch/none",
      "MinJobAge=600", // ended jobs stay visible to scontrol for the whole test
      "KillWait=10",
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=4000 State=UNKNOWN`,
      "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
    ].join("\n") + "\n",
  );
  const before = Deno.env.get("SLURM_CONF");
  Deno.env.set("SLURM_CONF", conf);
  const env = { SLURM_CONF: conf };
  const run = (cmd: string, ...args: string[]) => exec(cmd, args, env);
  const stop = async () => {
    await run("scancel", "--user=root").catch(() => "");
    for (const name of ["slurmd", "slurmctld", "munged"]) {
      const pid = await readPid(join(dir, `${name}.pid`));
      if (pid === null) continue;
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
      for (let i = 0; i < 100 && (await running(pid)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (before === undefined) Deno.env.delete("SLURM_CONF");
    else Deno.env.set("SLURM_CONF", before);
  };
  try {
    await exec("/usr/sbin/slurmctld", ["-c", "-f", conf], env);
    await exec("/usr/sbin/slurmd", ["-f", conf], env);
    for (let i = 0;; i++) {
      const state = await run("sinfo", "-h", "-o", "%T").catch(() => "");
      if (state.trim() === "idle") break;
      if (i > 200) {
        throw new Error(
          `the test cluster's node is not idle after 20 s (sinfo: "${state.trim()}"); logs in ${dir}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { conf, dir, run, stop };
}
