/**
 * The Access section (loaded when first opened: a chunk of its own): users,
 * groups and policies, each tab shown only to whom may list them.
 */
import { FileJson, User as UserIcon, Users as UsersIcon } from 'lucide-preact'
import { useConsole } from '../context.js'
import { href, type AccessTab, type Route } from '../router.js'
import { Group, Groups } from './access-groups.js'
import { Policies, Policy } from './access-policies.js'
import { User } from './access-user.js'
import { Users } from './access-users.js'

const TABS: Array<{ tab: AccessTab, label: string, action: string, icon: typeof UsersIcon }> = [
  { tab: 'users', label: 'Users', action: 'iam:ListUsers', icon: UserIcon },
  { tab: 'groups', label: 'Groups', action: 'iam:ListGroups', icon: UsersIcon },
  { tab: 'policies', label: 'Policies', action: 'iam:ListPolicies', icon: FileJson },
]

export function Access ({ route }: { route: Extract<Route, { view: 'access' }> }): preact.JSX.Element {
  const { session } = useConsole()
  const tabs = TABS.filter(t => session.can.may(t.action))
  // A link to a tab this person may not list lands on the first one they may.
  const shown = tabs.find(t => t.tab === route.tab) ?? tabs[0]
  if (shown === undefined) return <p class="muted">Your access does not include users, groups or policies.</p>
  const name = shown.tab === route.tab ? route.name : undefined
  return <div class="access">
    <nav class="tabs" aria-label="Access">
      <ul>{tabs.map(t => <li key={t.tab}>
        <a href={href({ view: 'access', tab: t.tab })} aria-current={t.tab === shown.tab ? 'page' : undefined}><t.icon size={16} aria-hidden /> {t.label}</a>
      </li>)}</ul>
    </nav>
    {shown.tab === 'users' && (name === undefined ? <Users /> : <User name={name} />)}
    {shown.tab === 'groups' && (name === undefined ? <Groups /> : <Group name={name} />)}
    {shown.tab === 'policies' && (name === undefined && route.create !== true ? <Policies /> : <Policy name={name} />)}
  </div>
}
