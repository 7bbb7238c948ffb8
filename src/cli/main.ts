#!/usr/bin/env node
/**
 * The `kq` command: dispatches to one command module per subcommand. Every error reaches the
 * user as one line on stderr (`kq watch: nope: No such file or directory`) and a non-zero
 * status; --help goes to stdout with status 0.
 */
import { CliError, EXIT_ERROR, EXIT_USAGE, exit, quietOnBrokenPipe, setProgram, version, warn } from './common.js';

const HELP = `usage: kq <command> [options]

BSD kqueue/kevent tools for any machine with Node, each built on one kqueue:

  kq watch [PATH...] [-r] [--pid PID] [--signal SIG] [--timer MS] ...
                     print files, processes, signals and timers as events happen
  kq run [-acdnprsxz] utility [argument [/_] ...] < filenames
                     run a command when files change (entr-compatible)
  kq wait [-t duration] [-ov] pid ...
                     wait for processes to terminate (pwait-compatible)
  kq tail [-f | -F] [-n N] FILE
                     print the end of a file and follow what is appended

  kq <command> --help   help on one command
  kq --version          the version

Examples:
  kq watch .                        # events under the current directory
  kq watch -r src --json            # a tree, as JSON lines
  ls *.ts | kq run -c npm test      # rerun the tests on every save
  kq wait -v 1234                   # report when process 1234 exits
  kq tail -F /var/log/app.log       # follow a log across rotation
`;

type Command = (argv: string[]) => Promise<never>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  watch: async () => (await import('./watch.js')).watchMain,
  run: async () => (await import('./run.js')).runMain,
  wait: async () => (await import('./wait.js')).waitMain,
  tail: async () => (await import('./tail.js')).tailMain,
};

async function main(argv: string[]): Promise<never> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(HELP);
    return exit(EXIT_USAGE);
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    if (rest[0] !== undefined && COMMANDS[rest[0]] !== undefined) return (await COMMANDS[rest[0]]!())(['--help']);
    process.stdout.write(HELP);
    return exit(0);
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`kq ${version()}\n`);
    return exit(0);
  }
  const load = COMMANDS[cmd];
  if (load === undefined) {
    warn(cmd.startsWith('-') ? `unknown option ${cmd} (kq --help lists the commands)` : `unknown command '${cmd}' (kq --help lists the commands)`);
    return exit(EXIT_USAGE);
  }
  return (await load())(rest);
}

quietOnBrokenPipe();
main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof CliError) {
    warn(e.message);
    void exit(e.status);
    return;
  }
  setProgram('kq');
  warn(e instanceof Error ? `internal error: ${e.stack ?? e.message}` : `internal error: ${String(e)}`);
  void exit(EXIT_ERROR);
});
