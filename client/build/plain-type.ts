/**
 * Prints a type as plain TypeScript text with every alias, interface and
 * mapped type expanded, so the text imports nothing. A d.ts bundler only
 * copies declarations: the router's outputs are written in terms of MikroORM's
 * entity types, so copying would drag MikroORM (and pino, ioredis, bullmq via
 * the context) into the client's types. Evaluating them here leaves data only.
 *
 * Only what crosses the wire as JSON (tRPC without a transformer) is
 * supported; anything else (a function, a class instance such as Date, a
 * generic left open, a recursive type) fails the build with its path, rather
 * than being printed wrong.
 */
import ts from 'typescript';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

export class PlainTypePrinter {
  /** Types being printed right now: meeting one again means a recursive type. */
  private readonly open = new Set<ts.Type>();
  /** Named types met so far (the server's own aliases, e.g. CreditView), printed once and referred to by name. */
  private readonly names = new Map<ts.Type, string>();
  private readonly declarations: string[] = [];

  /** `reserved`: names the caller declares itself, which a hoisted alias must not take. */
  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly reserved: ReadonlySet<string> = new Set(),
  ) {}

  /** `type Name = …;` for every named type the printed text refers to. */
  namedTypes(): string {
    return this.declarations.join('\n');
  }

  /** `path` names the type in error messages, e.g. `credits.get output`. */
  print(type: ts.Type, path: string, indent = ''): string {
    const alias = type.aliasSymbol;
    if (alias && !type.aliasTypeArguments?.length && type.flags & (ts.TypeFlags.Object | ts.TypeFlags.UnionOrIntersection)) {
      return this.named(type, alias, path);
    }
    return this.expand(type, path, indent);
  }

  /** The type's own text, even when it has a name: for the caller's declarations. */
  expand(type: ts.Type, path: string, indent = ''): string {
    if (this.open.has(type)) throw new Error(`${path}: recursive type ${this.checker.typeToString(type)} cannot be expanded`);
    this.open.add(type);
    try {
      return this.printType(type, path, indent);
    } finally {
      this.open.delete(type);
    }
  }

  private named(type: ts.Type, alias: ts.Symbol, path: string): string {
    const known = this.names.get(type);
    if (known) return known;
    let name = alias.name;
    const taken = new Set([...this.reserved, ...this.names.values()]);
    for (let n = 2; taken.has(name); n++) name = `${alias.name}${n}`;
    this.names.set(type, name);
    const body = this.expand(type, path);
    this.declarations.push(...docLines(alias, this.checker, ''), `type ${name} = ${body};`);
    return name;
  }

  private printType(type: ts.Type, path: string, indent: string): string {
    const f = type.flags;
    if (f & ts.TypeFlags.Any) return 'any';
    if (f & ts.TypeFlags.Unknown) return 'unknown';
    if (f & ts.TypeFlags.Never) return 'never';
    if (f & ts.TypeFlags.Void) return 'void';
    if (f & ts.TypeFlags.Undefined) return 'undefined';
    if (f & ts.TypeFlags.Null) return 'null';
    if (f & ts.TypeFlags.String) return 'string';
    if (f & ts.TypeFlags.Number) return 'number';
    if (f & ts.TypeFlags.Boolean) return 'boolean';
    if (f & ts.TypeFlags.BooleanLiteral) return this.checker.typeToString(type);
    if (type.isStringLiteral()) return JSON.stringify(type.value);
    if (type.isNumberLiteral()) return String(type.value);
    if (f & ts.TypeFlags.NonPrimitive) return 'object';
    if (type.isUnion()) return this.union(type.types, path, indent);
    if (type.isIntersection()) return this.intersection(type, path, indent);
    if (f & ts.TypeFlags.Object) return this.object(type as ts.ObjectType, path, indent);
    throw new Error(`${path}: cannot print ${this.checker.typeToString(type)} as plain data (type flags ${f})`);
  }

  private union(members: readonly ts.Type[], path: string, indent: string): string {
    const literals = members.filter((m) => m.flags & ts.TypeFlags.BooleanLiteral);
    // `boolean` is `false | true` inside a union; say it as written.
    const both = literals.length === 2;
    const parts = members.filter((m) => !(both && m.flags & ts.TypeFlags.BooleanLiteral)).map((m) => this.print(m, path, indent));
    if (both) parts.push('boolean');
    return parts.join(' | ');
  }

  /** An intersection of object types is one object: print its merged members. */
  private intersection(type: ts.IntersectionType, path: string, indent: string): string {
    if (type.types.every((t) => t.flags & ts.TypeFlags.Object)) return this.members(type, path, indent);
    return type.types.map((t) => `(${this.print(t, path, indent)})`).join(' & ');
  }

  private object(type: ts.ObjectType, path: string, indent: string): string {
    const checker = this.checker;
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type as ts.TypeReference);
      if (!element) throw new Error(`${path}: array without an element type`);
      const readonly = type.symbol?.name === 'ReadonlyArray' ? 'readonly ' : '';
      return `${readonly}Array<${this.print(element, `${path}[]`, indent)}>`;
    }
    if (checker.isTupleType(type)) return this.tuple(type as ts.TupleTypeReference, path, indent);
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      throw new Error(`${path}: ${checker.typeToString(type)} is callable, which JSON cannot carry`);
    }
    if (type.symbol?.name === 'Date') throw new Error(`${path}: a Date reaches the client as a string; convert it on the server`);
    return this.members(type, path, indent);
  }

  private tuple(type: ts.TupleTypeReference, path: string, indent: string): string {
    const flags = type.target.elementFlags;
    const elements = this.checker.getTypeArguments(type).map((t, i) => {
      const text = this.print(t, `${path}[${i}]`, indent);
      const flag = flags[i] ?? ts.ElementFlags.Required;
      if (flag & ts.ElementFlags.Optional) return `(${text})?`;
      if (flag & ts.ElementFlags.Variable) return `...Array<${text}>`;
      return text;
    });
    return `${type.target.readonly ? 'readonly ' : ''}[${elements.join(', ')}]`;
  }

  private members(type: ts.Type, path: string, indent: string): string {
    const checker = this.checker;
    const inner = `${indent}  `;
    const lines: string[] = [];
    for (const info of checker.getIndexInfosOfType(type)) {
      const key = this.print(info.keyType, `${path}[key]`, inner);
      lines.push(`${inner}${info.isReadonly ? 'readonly ' : ''}[key: ${key}]: ${this.print(info.type, `${path}[${key}]`, inner)};`);
    }
    for (const prop of checker.getPropertiesOfType(type)) {
      const name = IDENTIFIER.test(prop.name) ? prop.name : JSON.stringify(prop.name);
      const optional = prop.flags & ts.SymbolFlags.Optional ? '?' : '';
      const readonly = isReadonly(prop) ? 'readonly ' : '';
      lines.push(...docLines(prop, checker, inner));
      lines.push(`${inner}${readonly}${name}${optional}: ${this.print(checker.getTypeOfSymbol(prop), `${path}.${prop.name}`, inner)};`);
    }
    return lines.length === 0 ? '{}' : `{\n${lines.join('\n')}\n${indent}}`;
  }
}

function isReadonly(prop: ts.Symbol): boolean {
  return (prop.declarations ?? []).some((d) => ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Readonly);
}

/** The symbol's JSDoc, kept so that editors show the server's comments on the client's types. */
export function docLines(symbol: ts.Symbol, checker: ts.TypeChecker, indent: string): string[] {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  if (!text) return [];
  const body = text.split('\n').map((line) => `${indent} *${line ? ` ${line.replaceAll('*/', '*\\/')}` : ''}`);
  return [`${indent}/**`, ...body, `${indent} */`];
}
