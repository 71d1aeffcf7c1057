import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  os: string;
  node: string;
  redis: string;
}

function cpuModel(): string {
  const fromNode = os.cpus()[0]?.model?.trim();
  if (fromNode && fromNode !== 'unknown') return fromNode;
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What the numbers were measured on, for the header above the table. */
export function describeMachine(redisServer: string): Machine {
  const version = spawnSync(redisServer, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    ramGb: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: /\bv=(\S+)/.exec(version)?.[1] ?? 'unknown',
  };
}
