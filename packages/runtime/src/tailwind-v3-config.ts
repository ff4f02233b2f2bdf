import path from 'node:path';
import { parseSync } from 'vite';

/**
 * A project's `tailwind.config.*` (Tailwind v3), read as data, never run: the preview's
 * runtime holds the agent bridge and the model socket, and runs no project code. A
 * configuration is almost always an object literal; what it may use:
 * - literals, objects, arrays, spreads, template strings without expressions, regular
 *   expressions (`safelist`), `satisfies`/`as` (TypeScript), and constants declared
 *   before it (`const config = {…}; export default config`);
 * - Tailwind's own data modules, `tailwindcss/colors` and `tailwindcss/defaultTheme`
 *   (`require` or `import`), with member access (`defaultTheme.fontFamily.sans`).
 * Anything else (a function, a call, a plugin that is a package) is code: a plugin or a
 * preset is left out and named; anything else outside `plugins` and `presets` makes the
 * configuration unreadable, and the preview says so (exports run it, as Remotion does).
 */
export type TailwindV3Config =
  | { ok: true; config: Record<string, unknown>; leftOut: string[] }
  | { ok: false; reason: string };

/** The data modules of Tailwind that a configuration may use. */
export type TailwindData = { colors: unknown; defaultTheme: unknown };

class NotData extends Error {}

const DATA_MODULES = { 'tailwindcss/colors': 'colors', 'tailwindcss/colors.js': 'colors', 'tailwindcss/defaultTheme': 'defaultTheme', 'tailwindcss/defaultTheme.js': 'defaultTheme' } as const;

type Node = { type: string; start?: number; [key: string]: unknown };

export function readTailwindV3Config(file: string, source: string, data: TailwindData): TailwindV3Config {
  const name = path.basename(file);
  let program: { body: Node[] };
  try {
    const parsed = parseSync(name.replace(/\.(c|m)?ts$/, '.ts').replace(/\.(c|m)?js$/, '.js'), source) as unknown as { program: { body: Node[] }; errors: { message: string }[] };
    if (parsed.errors.length > 0) return { ok: false, reason: `${name} does not parse: ${parsed.errors[0]!.message}` };
    program = parsed.program;
  } catch (error) {
    return { ok: false, reason: `${name} does not parse: ${error instanceof Error ? error.message : String(error)}` };
  }
  const line = (node: Node) => (typeof node.start === 'number' ? source.slice(0, node.start).split('\n').length : 0);
  const scope = new Map<string, unknown>();
  const leftOut: string[] = [];

  const dataModule = (specifier: unknown) => (typeof specifier === 'string' && specifier in DATA_MODULES ? data[DATA_MODULES[specifier as keyof typeof DATA_MODULES]] : undefined);
  const requireOf = (node: Node): unknown => {
    // require('tailwindcss/colors')
    const callee = node.callee as Node;
    const args = node.arguments as Node[];
    if (callee.type === 'Identifier' && callee.name === 'require' && args.length === 1 && args[0]!.type === 'Literal') {
      const found = dataModule(args[0]!.value);
      if (found !== undefined) return found;
      throw new NotData(`require('${String(args[0]!.value)}') at line ${line(node)}`);
    }
    throw new NotData(`a function call at line ${line(node)}`);
  };
  const keyOf = (property: Node): string => {
    const key = property.key as Node;
    if (!property.computed && key.type === 'Identifier') return key.name as string;
    if (key.type === 'Literal' && (typeof key.value === 'string' || typeof key.value === 'number')) return String(key.value);
    throw new NotData(`a computed key at line ${line(property)}`);
  };

  function evaluate(node: Node): unknown {
    switch (node.type) {
      case 'Literal': {
        const regex = node.regex as { pattern: string; flags: string } | undefined;
        if (regex) return new RegExp(regex.pattern, regex.flags);
        if (typeof node.value === 'bigint') throw new NotData(`a BigInt at line ${line(node)}`);
        return node.value;
      }
      case 'TemplateLiteral':
        if ((node.expressions as Node[]).length > 0) throw new NotData(`a template with expressions at line ${line(node)}`);
        return (node.quasis as { value: { cooked: string } }[]).map((quasi) => quasi.value.cooked).join('');
      case 'ParenthesizedExpression':
      case 'TSSatisfiesExpression':
      case 'TSAsExpression':
      case 'TSNonNullExpression':
      case 'TSTypeAssertion':
        return evaluate(node.expression as Node);
      case 'UnaryExpression': {
        const value = evaluate(node.argument as Node);
        if (node.operator === '-' && typeof value === 'number') return -value;
        if (node.operator === '+' && typeof value === 'number') return value;
        if (node.operator === '!' ) return !value;
        throw new NotData(`the operator ${String(node.operator)} at line ${line(node)}`);
      }
      case 'Identifier': {
        if (node.name === 'undefined') return undefined;
        if (scope.has(node.name as string)) return scope.get(node.name as string);
        throw new NotData(`"${String(node.name)}", which is not a constant of the file, at line ${line(node)}`);
      }
      case 'MemberExpression': {
        const object = evaluate(node.object as Node);
        const property = node.property as Node;
        const key = node.computed ? evaluate(property) : property.type === 'Identifier' ? property.name : undefined;
        if ((typeof key !== 'string' && typeof key !== 'number') || object === null || typeof object !== 'object') throw new NotData(`a property access at line ${line(node)}`);
        if (!Object.hasOwn(object, key)) return undefined;
        return (object as Record<string, unknown>)[key];
      }
      case 'ArrayExpression': {
        const items: unknown[] = [];
        for (const element of node.elements as (Node | null)[]) {
          if (!element) continue;
          if (element.type === 'SpreadElement') {
            const spread = evaluate(element.argument as Node);
            if (!Array.isArray(spread)) throw new NotData(`a spread of something other than a list at line ${line(element)}`);
            items.push(...(spread as unknown[]));
          } else items.push(evaluate(element));
        }
        return items;
      }
      case 'ObjectExpression': {
        const object: Record<string, unknown> = {};
        for (const property of node.properties as Node[]) {
          if (property.type === 'SpreadElement') {
            const spread = evaluate(property.argument as Node);
            if (spread === null || typeof spread !== 'object') throw new NotData(`a spread of something other than an object at line ${line(property)}`);
            Object.assign(object, spread);
            continue;
          }
          if (property.kind !== 'init' || property.method) throw new NotData(`a method or accessor at line ${line(property)}`);
          const key = keyOf(property);
          if (key === '__proto__') throw new NotData(`a __proto__ key at line ${line(property)}`);
          object[key] = key === 'plugins' || key === 'presets' ? lenientList(key, property.value as Node) : evaluate(property.value as Node);
        }
        return object;
      }
      case 'CallExpression':
        return requireOf(node);
      case 'ArrowFunctionExpression':
      case 'FunctionExpression':
        throw new NotData(`a function at line ${line(node)}`);
      default:
        throw new NotData(`${node.type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} at line ${line(node)}`);
    }
  }

  /** `plugins` and `presets`: what is code is left out (and named), the rest kept. */
  function lenientList(key: string, node: Node): unknown[] {
    if (node.type !== 'ArrayExpression') {
      leftOut.push(`its ${key}`);
      return [];
    }
    const kept: unknown[] = [];
    for (const element of node.elements as (Node | null)[]) {
      if (!element) continue;
      try {
        kept.push(evaluate(element));
      } catch (error) {
        if (!(error instanceof NotData)) throw error;
        const call = element.type === 'CallExpression' ? (element.callee as Node) : null;
        const args = element.type === 'CallExpression' ? (element.arguments as Node[]) : [];
        const named = call?.type === 'Identifier' && call.name === 'require' && args[0]?.type === 'Literal' ? String(args[0].value) : null;
        leftOut.push(named ? `the ${key.replace(/s$/, '')} ${named}` : `a ${key.replace(/s$/, '')} at line ${line(element)}`);
      }
    }
    return kept;
  }

  let exported: unknown;
  let found = false;
  try {
    for (const statement of program.body) {
      switch (statement.type) {
        case 'ImportDeclaration': {
          if (statement.importKind === 'type') break;
          const specifiers = statement.specifiers as Node[];
          const module = dataModule((statement.source as Node).value);
          for (const specifier of specifiers) {
            if (specifier.importKind === 'type') continue;
            if (module === undefined || specifier.type !== 'ImportDefaultSpecifier') throw new NotData(`an import of ${String((statement.source as Node).value)} at line ${line(statement)}`);
            scope.set((specifier.local as Node).name as string, module);
          }
          break;
        }
        case 'VariableDeclaration':
          if (statement.kind !== 'const') throw new NotData(`a ${String(statement.kind)} declaration at line ${line(statement)}`);
          for (const declaration of statement.declarations as Node[]) {
            const id = declaration.id as Node;
            if (id.type !== 'Identifier' || !declaration.init) throw new NotData(`a declaration at line ${line(declaration)}`);
            scope.set(id.name as string, evaluate(declaration.init as Node));
          }
          break;
        case 'ExportDefaultDeclaration':
          exported = evaluate(statement.declaration as Node);
          found = true;
          break;
        case 'ExpressionStatement': {
          const expression = statement.expression as Node;
          const target = expression.type === 'AssignmentExpression' ? (expression.left as Node) : null;
          const isModuleExports =
            target?.type === 'MemberExpression' && (target.object as Node).type === 'Identifier' && (target.object as Node).name === 'module' && (target.property as Node).name === 'exports';
          if (expression.operator !== '=' || !isModuleExports) throw new NotData(`a statement at line ${line(statement)}`);
          exported = evaluate(expression.right as Node);
          found = true;
          break;
        }
        case 'TSTypeAliasDeclaration':
        case 'TSInterfaceDeclaration':
        case 'EmptyStatement':
          break;
        default:
          throw new NotData(`${statement.type.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} at line ${line(statement)}`);
      }
    }
  } catch (error) {
    if (error instanceof NotData) return { ok: false, reason: `${name} computes its configuration (${error.message})` };
    throw error;
  }
  if (!found || exported === null || typeof exported !== 'object' || Array.isArray(exported)) return { ok: false, reason: `${name} exports no configuration object` };
  return { ok: true, config: exported as Record<string, unknown>, leftOut };
}
