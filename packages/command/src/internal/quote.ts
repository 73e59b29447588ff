import * as Redacted from "effect/Redacted"

/** Words made only of these characters mean the same to `sh` quoted or not. */
const plain = /^[A-Za-z0-9_@%+=:,./-]+$/

/** Words that `sh` reads as syntax when they stand first in a command. */
const reserved = new Set([
  "!",
  "{",
  "}",
  "case",
  "do",
  "done",
  "elif",
  "else",
  "esac",
  "fi",
  "for",
  "function",
  "if",
  "in",
  "select",
  "then",
  "time",
  "until",
  "while"
])

/**
 * Quotes one word for `sh`: plain words stay as they are, the empty word is `''`, anything else goes in
 * single quotes, inside which only `'` needs care (closed, escaped, reopened).
 */
export const quoteWord = (word: string): string => {
  if (word.length === 0) return "''"
  if (plain.test(word)) return word
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** Quotes the word in command position, where `NAME=x` would be an assignment and `if` a keyword. */
export const quoteCommandWord = (word: string): string =>
  word.includes("=") || reserved.has(word) ? `'${word.replace(/'/g, `'\\''`)}'` : quoteWord(word)

/** Shows an argument for people: secrets as `<redacted>`. */
export const showArg = (arg: string | Redacted.Redacted<string>, commandPosition = false): string => {
  if (Redacted.isRedacted(arg)) return "<redacted>"
  // A NUL byte cannot reach a child (the value is invalid); shown raw it would cut logs short.
  const visible = arg.replace(/\0/g, "\\0")
  return commandPosition ? quoteCommandWord(visible) : quoteWord(visible)
}
