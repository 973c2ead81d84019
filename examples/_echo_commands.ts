/** The command table shared by examples/echo_server.ts and examples/echo_client.ts. */

import { Commands } from "../src/codec/commands.ts";

/** `echo` answers with its body; `note` is one-way; `notes` lists the notes received. */
export const ECHO_COMMANDS = new Commands({ echo: 1, note: 2, notes: 3 });
