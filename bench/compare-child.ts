/**
 * Entry of the child process that measures section 5 (see `measureSideBySideInFreshProcess`):
 * takes the options as a JSON argument and writes the figures as JSON to stdout.
 * @module
 */
import { measureSideBySide, type SideBySideOptions } from "./compare.js";

const options = JSON.parse(process.argv[2] ?? "") as SideBySideOptions;
process.stdout.write(JSON.stringify(await measureSideBySide(options)));
