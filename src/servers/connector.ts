import type { Command, Reply } from './resp.js';

/** A server's address. A pipe makes a new one for each connection: identity tells connections apart. */
export interface Address {
  host: string;
  port: number;
}

/** What a connector may do with the pipe it serves (pipe.ts). */
export interface PipeHandle {
  /** The pipe's name in messages: its role and redacted URL. */
  readonly label: string;
  send(commands: readonly Command[]): Promise<Reply[]>;
  /** The address of the current connection (a new object per connection); undefined before the first. */
  readonly address: Address | undefined;
  /** A connection is up and the pipe has not given up. */
  readonly connected: boolean;
  /** Drops the current connection for this reason: what waits goes to wherever `locate` names then. */
  leave(why: string): void;
}

/**
 * How a pipe finds its server and vets each new connection. A URL's host and port need nothing more
 * (`directConnector`); behind Sentinel the master is asked of the sentinels at every connection, and
 * ROLE must say `master` (sentinel/connector.ts).
 */
export interface Connector {
  /** Where to connect now. */
  locate(): Promise<Address>;
  /** Commands for the end of the handshake, after PING (NOPERM on them is a reply, not a failure). */
  readonly vetting: readonly Command[];
  /** Given the replies to `vetting`: throws when the server reached must not be used. */
  vet(address: Address, replies: Reply[]): void;
  /** An error reply on the live connection that says this server must be left. */
  leaves(reply: Error): boolean;
  /** A failure to connect that no retry can mend (credentials refused). */
  hopeless(err: Error): boolean;
}

/** The server at a fixed address. */
export function directConnector(host: string, port: number): Connector {
  return {
    locate: async () => ({ host, port }),
    vetting: [],
    vet: () => {},
    leaves: () => false,
    hopeless: () => false,
  };
}
